"""Bake the template over a matrix of its options and check every file users get."""

import filecmp
import hashlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from baking import CHOICES, DEFAULTS, TEMPLATE, bake, choice_variants, tool
from kuberay import KINDS, cluster_spec, manifest, pod_specs, validate

SLIM_ROOT = {
    "base_image": "python:3.12-slim",
    "python_version": "3.12",
    "base_image_uid": "0",
    "base_image_gid": "0",
}
# Every choice cookiecutter.json offers (index_auth's change how CI gets the credential:
# test_index_auth.py bakes each), then answers that combine or stretch them.
MATRIX = {
    "defaults": {},
    **choice_variants(*(key for key in CHOICES if key != "index_auth")),
    "slim-root-pip": SLIM_ROOT,
    "slim-root-uv": {**SLIM_ROOT, "installer": "uv"},
    "many-packages": {
        "private_packages": "acme-models[gpu]>=1.4,<2, acme-features==0.3.1 ; python_version>'3.8'",
        "project_name": "Feature Store Runtime",
    },
    "cuda-base": {"base_image": "rayproject/ray:2.60.0-py311-cu128"},
}


@pytest.fixture(scope="module", params=list(MATRIX), ids=list(MATRIX))
def baked(request, tmp_path_factory) -> tuple[dict, Path]:
    answers = MATRIX[request.param]
    return answers, bake(tmp_path_factory.mktemp(request.param), **answers)


def answer(answers: dict, key: str) -> str:
    return answers.get(key, DEFAULTS[key] if isinstance(DEFAULTS[key], str) else DEFAULTS[key][0])


def files(project: Path) -> list[Path]:
    return sorted(p for p in project.rglob("*") if p.is_file())


def test_every_file_renders(baked):
    _, project = baked
    for path in files(project):
        text = path.read_text(encoding="utf-8")
        assert "cookiecutter." not in text or path.parent.name == "audit", path
        assert "{%" not in text, path


def test_yaml_and_toml_parse(baked):
    _, project = baked
    for path in files(project):
        if path.suffix in {".yml", ".yaml"}:
            assert yaml.safe_load(path.read_text(encoding="utf-8")), path
    table = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert set(table["tool"]["image-tasks"]) == {
        "image-name",
        "private-index-url",
        "repository-url",
    }


def test_python_compiles_and_passes_ruff(baked):
    _, project = baked
    sources = [str(p) for p in files(project) if p.suffix == ".py"]
    subprocess.run([sys.executable, "-m", "py_compile", *sources], check=True)
    ruff = tool("ruff")
    for argv in ([ruff, "check", "--no-cache"], [ruff, "format", "--no-cache", "--check"]):
        result = subprocess.run(argv, cwd=project, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_passes(baked):
    _, project = baked
    result = subprocess.run(
        [tool("hadolint"), "--no-color", "Dockerfile"], cwd=project, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_mounts_the_secret_and_never_copies_it(baked):
    answers, project = baked
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
    secret_id = DEFAULTS["_secret_id"]
    uid, gid = answer(answers, "base_image_uid"), answer(answers, "base_image_gid")
    mount = re.search(rf"--mount=type=secret,id={secret_id},([^\s]*)", dockerfile)
    assert mount, dockerfile
    options = dict(option.split("=") for option in mount[1].split(","))
    assert options == {"uid": uid, "gid": gid, "mode": "0400", "required": "true"}
    assert f"NETRC=/run/secrets/{secret_id}" in dockerfile
    instructions = [line for line in dockerfile.splitlines() if not line.startswith("#")]
    code = "\n".join(instructions)
    for leak in ("cp /run/secrets", "cat /run/secrets", "mv /run/secrets", "COPY .netrc", "ADD "):
        assert leak not in code
    assert "extra-index-url" not in code
    assert not re.search(r"^(ENV|ARG|LABEL)\b.*(PASSWORD|TOKEN|NETRC)", code, re.M | re.I)
    final_user = re.findall(r"^USER (\d+):(\d+)$", code, re.M)[-1]
    assert final_user[0] != "0"
    syntax = answer(answers, "dockerfile_syntax")
    first = dockerfile.splitlines()[0]
    assert first == f"# syntax={syntax}" if syntax else not first.startswith("# syntax")


def test_secret_id_agrees_between_dockerfile_workflow_and_settings(baked):
    _, project = baked
    secret_id = DEFAULTS["_secret_id"]
    facts = "from image_tasks import settings; print(settings.dockerfile_facts()[0])"
    tasks_see = subprocess.run(
        [sys.executable, "-B", "-c", facts], cwd=project, capture_output=True, text=True
    )
    assert tasks_see.stdout.strip() == secret_id, tasks_see.stderr
    workflow = (project / ".github/workflows/image.yml").read_text(encoding="utf-8")
    assert f'"{secret_id}=${{{{ secrets.NET_RC }}}}"' in workflow


def test_requirements_hold_each_private_package(baked):
    """requirements.in: the answer's packages, on top of the base image's (the constraints the
    lock task writes); no lock yet (`nox -s lock` writes requirements.txt, with the index)."""
    answers, project = baked
    lines = (project / "requirements.in").read_text(encoding="utf-8").splitlines()
    assert "-c base-packages.txt" in lines
    assert not (project / "requirements.txt").exists()
    requirements = [line for line in lines if line and not line.startswith(("#", "-c "))]
    assert ", ".join(requirements) == re.sub(
        r",\s*(?=[A-Za-z])", ", ", answer(answers, "private_packages")
    )


def test_every_manifest_validates_against_its_kuberay_crd(baked):
    answers, project = baked
    for kind in KINDS:
        resource = manifest(project, kind)
        validate(resource)
        spec = cluster_spec(resource)
        assert spec["rayVersion"] == answer(answers, "ray_version")
        for pod in pod_specs(resource):
            assert pod["imagePullSecrets"] == [{"name": f"{project.name}-registry"}]
            for container in pod["containers"]:
                assert container["image"] == f"ghcr.io/acme/{project.name}:latest"
                assert container["resources"]["requests"] and container["resources"]["limits"]
        groups = [group["groupName"] for group in spec["workerGroupSpecs"]]
        assert groups == (["cpu", "gpu"] if "cu128" in answer(answers, "base_image") else ["cpu"])


def test_secrets_stay_out_of_git_and_the_build_context(baked):
    _, project = baked
    gitignore = (project / ".gitignore").read_text(encoding="utf-8").split()
    assert {".netrc", "*.netrc", ".env"} <= set(gitignore)
    dockerignore = (project / ".dockerignore").read_text(encoding="utf-8").split("\n")
    assert "*" in dockerignore  # an allow-list: nothing but what the build needs
    allowed = [line for line in dockerignore if line.startswith("!")]
    assert allowed == ["!requirements.txt", "!image_tasks/index/probe.py"]
    assert "eol=lf" in (project / ".gitattributes").read_text(encoding="utf-8")


def tree_digest(project: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(project)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode)
        for p in files(project)
    }


def test_baking_again_over_the_same_folder_yields_the_same_tree(tmp_path):
    first = bake(tmp_path, installer="uv")
    before = tree_digest(first)
    assert bake(tmp_path, installer="uv") == first
    assert tree_digest(first) == before


def test_image_tasks_is_copied_verbatim(tmp_path):
    project = bake(tmp_path)
    source = TEMPLATE / "{{cookiecutter.project_slug}}" / "image_tasks"
    names = [str(p.relative_to(source)) for p in source.rglob("*.py")]
    assert len(names) > 60
    _, mismatch, errors = filecmp.cmpfiles(source, project / "image_tasks", names, shallow=False)
    assert not mismatch and not errors


# An import the contract forbids, planted where ruff is content with it: in a function.
PLANTED = {
    "upward": ("engine/commands.py", "from image_tasks.tasks import build", "is not allowed to"),
    "cycle": ("state/store.py", "from image_tasks.state import records", "No cycles are allowed"),
    "audit-reaching-up": ("audit/api.py", "from image_tasks import settings", "not allowed"),
    "detection-importing-a-writer": (
        "audit/detect/matching.py",
        "from image_tasks.audit.render import text",
        "not allowed",
    ),
}


@pytest.mark.parametrize("planted", [None, *PLANTED])
def test_lint_holds_the_house_to_its_import_contract(tmp_path, planted):
    """`nox -s lint` runs lint-imports: the baked package keeps its layers (tasks above all, the
    audit below all, no cycle), and an import that breaks them fails lint, named."""
    project = bake(tmp_path)
    if planted:
        path, line, said = PLANTED[planted]
        with open(project / "image_tasks" / path, "a", encoding="utf-8") as module:
            module.write(f"\n\ndef _planted():\n    {line}  # noqa: F401\n")
    tools = f"{Path(tool('lint-imports')).parent}:{Path(tool('ruff')).parent}"
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"}
    lint = subprocess.run(
        [sys.executable, "-m", "image_tasks", "lint"],
        cwd=project, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    output = lint.stdout + lint.stderr
    if planted is None:
        assert lint.returncode == 0, output[-3000:]
        assert "Contracts: 3 kept, 0 broken." in output  # (the house, the audit's, no cycle)
    else:
        assert lint.returncode == 1, output[-3000:]
        assert "lint: findings from lint-imports" in output.splitlines()[-1]
        assert said in output and "BROKEN" in output
