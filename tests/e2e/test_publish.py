"""publish refuses, as a user meets it, every image that a clean audit did not read: one never
audited, one rebuilt after its audit, one whose audit found the mounted secret copied into a
layer. Each refusal says what to run, and nothing reaches the registry."""

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
