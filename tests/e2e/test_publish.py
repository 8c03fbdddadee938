"""publish refuses, as a user meets it, every image that a clean audit did not read: one never
audited, one rebuilt after its audit, one whose audit found the mounted secret copied into a
layer. Each refusal says what to run, and nothing reaches the registry."""

import base64
import json
import socket
import subprocess
from pathlib import Path

import pytest
from baking import tool
from harness import RUN, engine_env, run
from image_tasks.engine.detect import NAMES

ENGINES = tuple(n for n in NAMES if n != "docker")  # docker: buildx's daemon, its older CLI
LEAK = (
    "RUN --mount=type=secret,id=netrc,uid=1000,gid=100,required=true "
    "cp /run/secrets/netrc /home/ray/.netrc\n"
)


@pytest.fixture
def attempt(baked_e2e, local_index, registry, tmp_path):
    """A fresh repository and its user's environment, logged in to the registry for `engine`;
    returns (repository, env, repository path in the registry, run(*sessions))."""

    def _attempt(engine: str, name: str, dockerfile_tail: str = ""):
        repository = baked_e2e(image_name=f"{registry.host}/e2e-{RUN}/{name}")
        if dockerfile_tail:
            dockerfile = repository / "Dockerfile"
            text = dockerfile.read_text()
            final_user = text.rindex("\nUSER ")
            dockerfile.write_text(text[: final_user + 1] + dockerfile_tail + text[final_user + 1 :])
        image = f"{registry.host}/e2e-{RUN}/{name}:dev"
        env = engine_env(
            engine, IMAGE=image, NETRC=str(local_index[1]), **registry.user_env(tmp_path)
        )
        registry.login(engine, env)

        def nox(*argv: str) -> tuple[int, str]:
            status, output, _ = run([tool("nox"), *argv], cwd=repository, env=env)
            assert "Traceback" not in output
            assert local_index[2] not in output and registry.password not in output
            return status, output

        nox.repository, nox.env = repository, env
        return f"e2e-{RUN}/{name}", nox

    return _attempt


@pytest.mark.engine
@pytest.mark.parametrize("engine", ENGINES)
def test_an_image_never_audited_is_refused(engine, attempt, registry):
    repository, nox = attempt(engine, f"never-audited-{engine}")
    assert nox("-s", "build")[0] == 0
    status, output = nox("-s", "publish")
    assert status != 0
    assert "has no audit on record here" in output and "Run `nox -s audit`" in output
    assert not registry.has_repository(repository)


@pytest.mark.engine
@pytest.mark.parametrize("engine", ENGINES)
def test_an_image_rebuilt_after_its_audit_is_refused(engine, attempt, registry):
    repository, nox = attempt(engine, f"rebuilt-{engine}")
    assert nox("-s", "build", "audit")[0] == 0
    assert nox("-s", "build", "--", "--no-cache")[0] == 0  # new bytes, new config digest
    status, output = nox("-s", "publish")
    assert status != 0
    assert "the image was rebuilt after it was audited" in output
    assert not registry.has_repository(repository)


@pytest.mark.engine
@pytest.mark.parametrize("engine", ENGINES)
def test_an_image_whose_audit_found_a_leak_is_refused(engine, attempt, registry):
    repository, nox = attempt(engine, f"leaky-{engine}", dockerfile_tail=LEAK)
    assert nox("-s", "build", "--", "--no-cache")[0] == 0
    status, output = nox("-s", "audit")
    assert status != 0 and "LEAK:" in output and "netrc-file" in output
    status, output = nox("-s", "publish")
    assert status != 0
    assert "found leaked credentials, so publish refuses it" in output
    assert not registry.has_repository(repository)


@pytest.mark.engine
def test_an_audit_for_another_credential_than_the_build_used_is_refused(
    attempt, registry, tmp_path
):
    """Built with the index's netrc, audited with another: the audit could not have found the
    password that was mounted, so its clean verdict does not count."""
    repository, nox = attempt("buildx", "other-credential")
    assert nox("-s", "build")[0] == 0
    other = tmp_path / "other.netrc"
    other.write_text("machine 127.0.0.1\nlogin local\npassword another-password-0c41d\n")
    other.chmod(0o600)
    status, output = nox("-s", "audit", "--", "--netrc", str(other))
    assert status == 0 and "CLEAN" in output  # that password is nowhere in the image
    status, output = nox("-s", "publish")
    assert status != 0
    assert "built with a credential its audit did not search for" in output
    assert not registry.has_repository(repository)


FAILING_TEST = "def test_that_fails():\n    assert False, 'made to fail'\n"


@pytest.mark.engine
def test_an_image_whose_tests_failed_is_refused(attempt, registry):
    repository, nox = attempt("buildx", "tests-failed")
    assert nox("-s", "build", "audit")[0] == 0
    (nox.repository / "tests" / "test_made_to_fail.py").write_text(FAILING_TEST)
    status, output = nox("-s", "test")
    assert status != 0 and "1 failed" in output
    status, output = nox("-s", "publish")
    assert status != 0
    said = " ".join(output.split())
    assert "failed at" in said and "publish pushes only an image whose tests passed" in said, said
    assert "1 failed" in said  # what the run said, in the refusal
    assert not registry.has_repository(repository)


@pytest.mark.engine
def test_an_image_never_tested_is_refused(attempt, registry):
    repository, nox = attempt("buildx", "never-tested")
    assert nox("-s", "build", "audit")[0] == 0
    status, output = nox("-s", "publish")
    assert status != 0
    said = " ".join(output.split())
    assert "has no test run on record here" in said and "Run `nox -s test`" in said, said
    assert not registry.has_repository(repository)


@pytest.mark.engine
def test_an_image_tested_under_another_id_is_refused(attempt, registry):
    repository, nox = attempt("buildx", "tested-other")
    assert nox("-s", "build", "audit", "test")[0] == 0
    assert nox("-s", "build", "--", "--no-cache")[0] == 0  # new bytes, a new ID
    assert nox("-s", "audit")[0] == 0
    status, output = nox("-s", "publish")
    assert status != 0
    said = " ".join(output.split())
    assert "but its last test run" in said and "the image was rebuilt after it was tested" in said
    assert not registry.has_repository(repository)


def local_tags(program: str, env: dict[str, str]) -> set[str]:
    listed = subprocess.run(
        [program, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {line for line in listed.split() if RUN in line}


@pytest.mark.engine
def test_a_refused_push_names_its_cause_and_leaves_no_tag(attempt, registry, tmp_path):
    """No login, a login the registry refuses, a registry that is down: three causes, three
    messages, nothing in the registry, and no local tag made on the way; then, logged in, an
    incomplete audit is refused too."""
    repository, nox = attempt("buildx", "refused")
    assert nox("-s", "build", "audit", "test")[0] == 0
    env = nox.env
    before = local_tags("docker", env)
    docker_config = Path(env["DOCKER_CONFIG"]) / "config.json"

    docker_config.unlink()  # logged out
    status, output = nox("-s", "publish")
    said = " ".join(output.split())
    assert (
        status != 0
        and f"The registry {registry.host} wants a login this engine does not have" in said
    )
    assert "No tag was moved" in said

    wrong = base64.b64encode(f"{registry.user}:not-the-password-62c".encode()).decode()
    docker_config.write_text(json.dumps({"auths": {registry.host: {"auth": wrong}}}))
    status, output = nox("-s", "publish")
    said = " ".join(output.split())
    assert status != 0 and f"The registry {registry.host} refused the login this engine has" in said
    assert "not-the-password" not in output

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        down = f"127.0.0.1:{probe.getsockname()[1]}"
    status, output = nox("-s", "publish", "--", f"--tag={down}/e2e-{RUN}/refused:1.0")
    said = " ".join(output.split())
    assert status != 0 and f"Cannot reach the registry {down} (connection refused)" in said

    # An audit a bound stopped (exit 3, "incomplete"), as the audit records it.
    audits = nox.repository / ".image-tasks" / "audits.json"
    recorded = json.loads(audits.read_text())
    for audit in recorded.values():
        audit |= {"verdict": "incomplete", "summary": "INCOMPLETE: 1 path not read (a bound)."}
    audits.write_text(json.dumps(recorded))
    registry.login("buildx", env)
    status, output = nox("-s", "publish")
    said = " ".join(output.split())
    assert status != 0 and "was incomplete: a bound stopped it reading everything" in said
    assert "INCOMPLETE: 1 path not read" in said

    assert not registry.has_repository(repository)
    assert local_tags("docker", env) == before, "publish left a local tag behind"
