"""The image works where KubeRay puts it (run by `nox -s test`): the probes KubeRay v1.7.0
injects pass, ray[default]'s job server answers, and it runs under an arbitrary uid (OpenShift)."""

import pytest
from in_image import KUBERAY_PROBES, RAY_REMOTE_IMPORT, imported_modules
from missing import require_probe_tools

# OpenShift's restricted policy: a uid from the namespace's range, group 0.
ARBITRARY_USER = "1000770000:0"


@pytest.fixture(scope="module")
def probes(run) -> dict[str, str]:
    lines = run("python3", "-c", KUBERAY_PROBES).splitlines()
    return dict(line.split(" ", 1) for line in lines if " " in line)


def test_tools_of_kuberay_exec_probes_are_present(probes):
    require_probe_tools(probes)


def test_head_starts_and_kuberay_probes_pass(probes):
    assert probes["ray-start"].startswith("0"), f"ray start --head failed: {probes['ray-start']}"
    assert probes["http-probe"] == "200", (
        "the dashboard agent's /api/healthz did not answer 200 (KubeRay's httpGet probe for "
        "Ray 2.53+): the image needs ray[default], not bare ray"
    )
    if probes["exec-probe"] != "0":
        require_probe_tools(probes)  # the likeliest cause, said once for both tests
    assert probes["exec-probe"] == "0", "KubeRay's wget exec probe failed on the head"


def test_job_server_answers_with_the_images_ray(probes, run):
    version = run("python3", "-c", "import ray; print(ray.__version__)").strip()
    assert probes["job-server"] == version, "no Jobs API: the image needs ray[default]"


def test_runs_under_an_arbitrary_uid_with_a_writable_home(run, private_packages):
    """As OpenShift runs it: no passwd entry, group 0, HOME pointed at a writable directory
    (the base image's /home/ray belongs to its own user; Ray writes ~/.ray)."""
    modules = [module for _, module in imported_modules(run, private_packages)]
    command = ("env", "HOME=/tmp", "python3", "-c", RAY_REMOTE_IMPORT, *modules)
    assert run(*command, user=ARBITRARY_USER).split() == modules
