"""What a user sees when something is wrong: one clear paragraph that names the cause, no
traceback, no secret, and nothing done on top of the failure."""

import re
import socket
import sys

import pytest
from baking import tool
from harness import engine_env, run, tag
from image_tasks.engine.detect import NAMES as ENGINES


@pytest.fixture(scope="module")
def repository(baked_e2e):
    # Its own requirement spelling, so no cached install step from another test can answer.
    return baked_e2e(private_packages="acme-sauce==1.0.0")


@pytest.mark.engine
def test_no_credential_fails_before_any_build(repository, tmp_path):
    env = engine_env("buildx", HOME=str(tmp_path))
    status, output, _ = run([tool("nox"), "-s", "build"], cwd=repository, env=env)
    assert status != 0
    assert "No credential for the private index 127.0.0.1 was found" in output
    assert "'machine 127.0.0.1 login USER password SECRET'" in output
    for way in ("--netrc PATH", "NETRC=PATH", "NET_RC", "~/.netrc"):
        assert way in output
    assert "$ docker" not in output, "an engine was started without a credential"
    assert "Traceback" not in output


def wrong_netrc(local_index, tmp_path):
    _, netrc, password = local_index
    wrong = tmp_path / "netrc"
    wrong.write_text(netrc.read_text().replace(password, "not-the-password"))
    wrong.chmod(0o600)
    return wrong


def engine_started(output: str) -> bool:
    return re.search(r"^\$ (docker|podman) ", output, re.M) is not None


@pytest.mark.engine
@pytest.mark.parametrize("engine", ENGINES)
def test_wrong_password_fails_before_the_engine_runs(engine, repository, local_index, tmp_path):
    """Even where the engine holds the install step in its cache (it would not ask the index),
    the host's index check refuses a wrong or rotated password, in seconds."""
    env = engine_env(engine, NETRC=str(wrong_netrc(local_index, tmp_path)))
    status, output, seconds = run([tool("nox"), "-s", "build"], cwd=repository, env=env)
    assert status != 0
    # pypiserver refuses a wrong password with 403 (and a missing one with 401); Nexus says 401.
    assert re.search(
        r"the index answered HTTP 40[13] \((Unauthorized|Forbidden)\) for 'local' at 127\.0\.0\.1:"
        r" the credential is wrong or expired", output
    ), output[-3000:]  # fmt: skip
    assert not engine_started(output) and seconds < 60
    assert "Traceback" not in output and local_index[2] not in output


@pytest.mark.engine
@pytest.mark.parametrize("engine", ENGINES)
def test_wrong_password_inside_the_build_is_named_too(engine, repository, local_index, tmp_path):
    """For builders whose network differs (--no-index-check), the install step checks again."""
    env = engine_env(engine, NETRC=str(wrong_netrc(local_index, tmp_path)))
    argv = [tool("nox"), "-s", "build", "--", "--no-index-check", "--no-cache"]
    status, output, _ = run(argv, cwd=repository, env=env)
    assert status != 0 and engine_started(output)
    assert re.search(r"The build failed \(\w+ exited with \d+\): the install step's index check "
                     r"says the index answered HTTP 40[13]", output), output[-3000:]  # fmt: skip
    assert "Traceback" not in output and local_index[2] not in output


@pytest.mark.engine
def test_a_mistyped_package_is_named(baked_e2e, local_index):
    """The lock asks the index for every name requirements.in declares before anything else."""
    repository = baked_e2e(locked=False, private_packages="acme-orbitt")
    env = engine_env("buildx", NETRC=str(local_index[1]))
    status, output, _ = run([tool("nox"), "-s", "lock"], cwd=repository, env=env)
    assert status != 0
    assert "'acme-orbitt' is not on the index 127.0.0.1" in output
    assert not engine_started(output) and "Traceback" not in output
    assert not (repository / "requirements.txt").exists()
    status, output, _ = run([tool("nox"), "-s", "build"], cwd=repository, env=env)
    assert status != 0 and "requirements.txt is missing" in output and "nox -s lock" in output


@pytest.mark.engine
def test_an_index_that_is_down_is_named(repository, local_index):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/simple/"
    env = engine_env("buildx", NETRC=str(local_index[1]), PRIVATE_INDEX_URL=url)
    status, output, _ = run([tool("nox"), "-s", "build"], cwd=repository, env=env)
    assert status != 0
    assert f"cannot reach 127.0.0.1:{port} (connection refused)" in output
    assert not engine_started(output) and "Traceback" not in output


@pytest.mark.engine
def test_the_default_run_stops_at_a_failed_build(repository, local_index, tmp_path):
    """Plain `nox` must not go on to audit and test whatever image has that tag."""
    env = engine_env("buildx", NETRC=str(wrong_netrc(local_index, tmp_path)))
    status, output, _ = run([tool("nox")], cwd=repository, env=env)
    assert status != 0
    assert "Session build failed" in output
    assert "Running session audit" not in output and "Running session test" not in output


@pytest.mark.engine
@pytest.mark.parametrize("engine", ENGINES)
def test_testing_an_image_never_built_says_build_it_first(engine, repository):
    env = engine_env(engine, IMAGE=tag("never-built"))
    status, output, _ = run([tool("nox"), "-s", "test"], cwd=repository, env=env)
    assert status != 0
    assert "is not in" in output and "Build it first (nox -s build)" in output
    assert "Unable to find image" not in output and "Trying to pull" not in output
    assert "Traceback" not in output


@pytest.mark.engine
@pytest.mark.parametrize("engine", ["buildx", "docker"])  # podman ignores `# syntax=`
def test_an_unreachable_dockerfile_frontend_is_named(engine, baked_e2e, local_index):
    repository = baked_e2e(dockerfile_syntax="docker/dockerfile:1")
    env = engine_env(engine, NETRC=str(local_index[1]))
    status, output, _ = run([tool("nox"), "-s", "build"], cwd=repository, env=env)
    assert status != 0
    assert "the Dockerfile's first line, `# syntax=docker/dockerfile:1`" in output
    assert "Delete that line" in output and "Traceback" not in output


@pytest.mark.engine
def test_netrc_without_an_entry_for_the_index_host(repository, tmp_path):
    other = tmp_path / "netrc"
    other.write_text("machine pypi.example.com login me password elsewhere-secret\n")
    env = engine_env("buildx", NETRC=str(other))
    status, output, _ = run([tool("nox"), "-s", "build"], cwd=repository, env=env)
    assert status != 0 and "has no entry for the index host '127.0.0.1'" in output
    assert "elsewhere-secret" not in output


@pytest.mark.engine
@pytest.mark.parametrize(
    ("engine", "message"),
    [
        (None, "No container engine that can build with BuildKit secret mounts"),
        ("podman", "podman is not on PATH"),
        ("buildx", "the docker CLI is not on PATH"),
    ],
)
def test_missing_engine_says_what_to_install(engine, message, repository, local_index, tmp_path):
    env = engine_env("buildx", NETRC=str(local_index[1]), PATH=str(tmp_path))
    env.pop("IMAGE_ENGINE")
    if engine:
        env["IMAGE_ENGINE"] = engine
    status, output, _ = run([sys.executable, "-m", "image_tasks", "build"], cwd=repository, env=env)
    assert status == 2
    assert message in output
    assert "Traceback" not in output


ENGINE_BUILDS = {
    "buildx": ["docker", "buildx", "build", "--load"],
    "docker": ["docker", "build"],
    "podman": ["podman", "build"],
}


@pytest.mark.engine
@pytest.mark.parametrize("engine", ENGINES)
def test_engine_refuses_a_build_without_the_secret(engine, repository):
    """required=true: a raw build that forgets --secret fails instead of installing nothing."""
    argv = [*ENGINE_BUILDS[engine], "--no-cache", "--network=host", str(repository)]
    status, output, _ = run(argv, cwd=repository, env=engine_env(engine, DOCKER_BUILDKIT="1"))
    assert status != 0
    assert re.search(r"secret netrc not found|secret required but no secret with id netrc", output)
