"""What a user sees when something is wrong: one clear paragraph, no traceback, no secret."""

import re
import sys

import pytest
from baking import tool
from harness import engine_env, run

ENGINES = ("buildx", "docker", "podman")


@pytest.fixture(scope="module")
def repository(baked_e2e):
    # Its own requirement spelling, so no cached install step from another test can answer.
    return baked_e2e(private_packages="acme-sauce==1.0.0")


@pytest.mark.engine
def test_no_credential_fails_before_any_build(repository, tmp_path):
    env = engine_env("buildx", HOME=str(tmp_path))
    status, output, _ = run([tool("nox"), "-s", "build"], cwd=repository, env=env)
    assert status != 0
    assert "No credential for the private index was found" in output
    for way in ("--netrc PATH", "NETRC=PATH", "NET_RC", "~/.netrc"):
        assert way in output
    assert "$ docker" not in output, "an engine was started without a credential"
    assert "Traceback" not in output


@pytest.mark.engine
@pytest.mark.parametrize("engine", ENGINES)
def test_wrong_password_shows_the_index_refusal(engine, repository, local_index, tmp_path):
    _, netrc, password = local_index
    wrong = tmp_path / "netrc"
    wrong.write_text(netrc.read_text().replace(password, "not-the-password"))
    wrong.chmod(0o600)
    env = engine_env(engine, NETRC=str(wrong))
    status, output, _ = run([tool("nox"), "-s", "build"], cwd=repository, env=env)
    assert status != 0
    # pypiserver refuses a wrong password with 403 (and a missing one with 401); Nexus says 401.
    assert re.search(r"the index answered HTTP 40[13] \((Unauthorized|Forbidden)\)", output)
    assert "The build failed" in output and "netrc credential is wrong" in output
    assert "Traceback" not in output
    assert password not in output


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
