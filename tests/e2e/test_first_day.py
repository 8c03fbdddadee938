"""What the baked repository tells a newcomer is true of what it does, and each failure names its
own cause: real engines, the real password-protected index."""

import re
import subprocess

import pytest
from baking import tool
from harness import engine_env, run, tag, wrong_netrc


@pytest.fixture
def image():
    """A local image reference for one test, removed after it."""
    reference = tag("firstday")
    yield reference
    subprocess.run(["docker", "image", "rm", "-f", reference], capture_output=True, check=False)


@pytest.mark.engine
def test_no_index_check_with_a_cached_install_step_asks_nothing(
    baked_e2e, local_index, image, tmp_path
):
    """docs/tasks.md says so: with --no-index-check, an install step the engine takes from its
    cache asks the index nothing, so a wrong password still builds (the README used to promise
    that the install step checks again)."""
    repository = baked_e2e()
    docs = " ".join((repository / "docs/tasks.md").read_text().split())
    assert "one the engine takes from its cache asks nothing" in docs
    env = engine_env("buildx", IMAGE=image, NETRC=str(local_index[1]))
    status, output, _ = run([tool("nox"), "-s", "build"], cwd=repository, env=env)
    assert status == 0, output[-3000:]

    env["NETRC"] = str(wrong_netrc(local_index, tmp_path))
    argv = [tool("nox"), "-s", "build", "--", "--no-index-check"]
    status, output, _ = run(argv, cwd=repository, env=env)
    assert status == 0, output[-3000:]
    install = re.search(r"^#(\d+) \[[^\]]+\] RUN --mount=type=secret", output, re.M)
    assert install and re.search(rf"^#{install[1]} CACHED$", output, re.M), output[-3000:]
