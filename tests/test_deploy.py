"""The deploy/ kustomizations: one image reference for every manifest, tag or published digest;
a GPU group exactly for CUDA bases; the check the RayJob and RayService run. (tests/test_bake.py
validates every manifest of every bake option against its KubeRay CRD.)"""

import re
import shutil
import subprocess
import sys

import jsonschema
import pytest
import yaml
from baking import bake
from kuberay import KINDS, kustomize, manifest, pod_specs, validate

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    packages = "acme-models[gpu]>=1.4,<2, acme-features==0.3.1 ; python_version>'3.8'"
    return bake(tmp_path_factory.mktemp("deploy"), private_packages=packages)


def images(resource: dict) -> set[str]:
    return {container["image"] for pod in pod_specs(resource) for container in pod["containers"]}


def test_the_image_component_is_the_one_reference(project):
    component = yaml.safe_load((project / "deploy/image/kustomization.yaml").read_text())
    assert component == {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "images": [{"name": f"ghcr.io/acme/{project.name}", "newTag": "latest"}],
    }
    for folder in KINDS:
        kustomization = yaml.safe_load(
            (project / "deploy" / folder / "kustomization.yaml").read_text()
        )
        assert "../image" in kustomization["components"]
        text = (project / "deploy" / folder / f"{folder}.yaml").read_text()
        assert set(re.findall(r"image: (\S+)", text)) == {f"ghcr.io/acme/{project.name}:latest"}


@pytest.mark.parametrize("pushed_as", ["image-name", "another-registry"])
def test_a_published_digest_reaches_every_container(project, tmp_path, pushed_as):
    """What publish pins (ray.deploy.pin, as publish calls it) replaces the tag in every pod,
    submitter included; an image pushed under another name is renamed there too."""
    copy = tmp_path / "repo"
    shutil.copytree(project, copy)
    name = f"ghcr.io/acme/{project.name}"
    pushed = name if pushed_as == "image-name" else "registry.example.com/mirror/app"
    pin = f"from image_tasks.ray import deploy; deploy.pin({f'{pushed}@{DIGEST}'!r})"
    subprocess.run([sys.executable, "-B", "-c", pin], cwd=copy, check=True)
    component = (copy / "deploy/image/kustomization.yaml").read_text()
    assert component.startswith("# The one place"), "the component's comments are kept"
    for folder in KINDS:
        resource = manifest(copy, folder)
        validate(resource)
        assert images(resource) == {f"{pushed}@{DIGEST}"}


@pytest.mark.parametrize(
    ("base_image", "gpu"),
    [
        ("rayproject/ray:2.60.0-py311", False),
        ("rayproject/ray:2.60.0-py311-cpu", False),
        ("rayproject/ray:2.60.0-py311-gpu", True),
        ("rayproject/ray:2.60.0-py311-cu124", True),
        ("rayproject/ray-ml:2.60.0-py311-gpu", True),
        ("nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04", True),
        ("python:3.11-slim", False),
    ],
)
def test_a_gpu_worker_group_exactly_for_cuda_bases(base_image, gpu, tmp_path):
    answers = {"base_image": base_image}
    if base_image.startswith("python:"):
        answers.update(base_image_uid="0", base_image_gid="0")
    resource = manifest(bake(tmp_path, **answers), "raycluster")
    validate(resource)
    groups = {group["groupName"]: group for group in resource["spec"]["workerGroupSpecs"]}
    assert set(groups) == ({"cpu", "gpu"} if gpu else {"cpu"})
    if gpu:
        container = groups["gpu"]["template"]["spec"]["containers"][0]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert groups["gpu"]["minReplicas"] == 0


def test_rayjob_and_rayservice_run_the_checked_app(project):
    """Both mount deploy/app/runtime_check.py (the cluster task's smoke job) from a ConfigMap,
    and name the private distributions as the tasks read them from requirements.in."""
    names = "from image_tasks import validation; print(*validation.requirement_names(open("
    names += "'requirements.in').read()))"
    tasks_see = subprocess.run(
        [sys.executable, "-B", "-c", names], cwd=project, capture_output=True, text=True
    )
    expected = tasks_see.stdout.strip()
    assert expected == "acme-models acme-features", tasks_see.stderr
    source = (project / "deploy/app/runtime_check.py").read_text()
    for folder in ("rayjob", "rayservice"):
        documents = kustomize(project / "deploy" / folder)
        config_map = next(d for d in documents if d["kind"] == "ConfigMap")
        assert config_map["metadata"]["name"] == f"{project.name}-app"
        assert config_map["data"] == {"runtime_check.py": source}
        resource = next(d for d in documents if d["kind"] == KINDS[folder])
        for pod in pod_specs(resource)[:2]:  # head and workers (not the submitter)
            assert pod["volumes"] == [{"name": "app", "configMap": {"name": f"{project.name}-app"}}]
            env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
            assert env == {"PYTHONPATH": "/home/ray/app", "PRIVATE_DISTRIBUTIONS": expected}
    job = manifest(project, "rayjob")
    assert job["spec"]["entrypoint"] == "python /home/ray/app/runtime_check.py"
    serve = yaml.safe_load(manifest(project, "rayservice")["spec"]["serveConfigV2"])
    assert serve["applications"][0]["import_path"] == "runtime_check:app"


def test_strict_validation_refuses_an_unknown_field(project):
    """The control: a misspelt field fails, as kubectl's strict field validation makes it."""
    resource = manifest(project, "raycluster")
    resource["spec"]["headGroupSpec"]["rayStartParam"] = {}
    with pytest.raises(jsonschema.ValidationError, match="rayStartParam"):
        validate(resource)


def test_the_pin_task_takes_an_image_by_digest_only(project, tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(project, copy)
    name = f"ghcr.io/acme/{project.name}"
    pin = [sys.executable, "-B", "-m", "image_tasks", "pin"]
    refused = subprocess.run([*pin, f"{name}:latest"], cwd=copy, capture_output=True, text=True)
    assert refused.returncode == 2 and "is not an image by digest" in refused.stderr
    assert "Traceback" not in refused.stderr
    done = subprocess.run([*pin, f"{name}@{DIGEST}"], cwd=copy, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert images(manifest(copy, "raycluster")) == {f"{name}@{DIGEST}"}


def test_every_cluster_requires_rays_token_authentication(project):
    """Ray's ports run code for whoever reaches them: every kind turns KubeRay's token auth on."""
    for folder in KINDS:
        resource = manifest(project, folder)
        spec = resource["spec"]
        cluster = spec.get("rayClusterSpec") or spec.get("rayClusterConfig") or spec
        assert cluster["authOptions"] == {"mode": "token"}, folder
