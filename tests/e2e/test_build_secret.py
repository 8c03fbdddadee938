"""What the engine mounts is the index host's netrc entry alone, on every engine: a user's netrc
with another host's password too hands the build that entry and nothing else, through the
engine's secret-from-environment (no file is written for it)."""

import hashlib

import pytest
from baking import tool
from harness import engine_env, run, tag

OTHER = "other-host-password-8e2"


@pytest.fixture(scope="module")
def checking(baked_e2e, local_index):
    """A repository whose build fails unless the mounted netrc is the index's entry alone."""
    _, _, password = local_index
    # Its one comment line names the build's run; the rest is exactly the index's entry.
    expected = f"machine 127.0.0.1\nlogin local\npassword {password}\n"
    digest = hashlib.sha256(expected.encode()).hexdigest()
    repository = baked_e2e(private_packages="acme-sauce==1.0.0")
    dockerfile = repository / "Dockerfile"
    text = dockerfile.read_text()
    final_user = text.rindex("\nUSER ")
    check = (
        "RUN --mount=type=secret,id=netrc,uid=1000,gid=100,required=true "
        f'test "$(grep -v "^#" /run/secrets/netrc | sha256sum | cut -d" " -f1)" = {digest}\n'
    )
    dockerfile.write_text(text[: final_user + 1] + check + text[final_user + 1 :])
    return repository


@pytest.mark.engine
@pytest.mark.parametrize("engine", ["buildx", "docker", "podman"])
def test_the_build_mounts_the_index_entry_alone(engine, checking, local_index, tmp_path):
    _, netrc, password = local_index
    user_netrc = tmp_path / "netrc"
    user_netrc.write_text(f"machine github.com login me password {OTHER}\n" + netrc.read_text())
    user_netrc.chmod(0o600)
    env = engine_env(engine, NETRC=str(user_netrc), IMAGE=tag(f"entry-{engine}"))
    build = [tool("nox"), "-s", "build", "--", "--no-cache"]
    status, output, _ = run(build, cwd=checking, env=env)
    assert status == 0, output[-4000:]
    assert "(its 127.0.0.1 entry alone)" in output
    (command,) = [line for line in output.splitlines() if line.startswith("$ ")]
    assert "--secret id=netrc,env=IMAGE_TASKS_NETRC" in command and "src=" not in command
    assert OTHER not in output and password not in output
