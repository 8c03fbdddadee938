"""Rebuilding the same commit gives the same image ID where the builder can: the build task sets
the image's time to the last commit's (podman's --timestamp, BuildKit's SOURCE_DATE_EPOCH), and
the install step writes byte code that records hashes, not times.

podman 4 does it. The Debian docker 20.10 here, and buildx on its daemon (the docker driver),
embed BuildKit 0.8, which predates SOURCE_DATE_EPOCH (0.11) and rewrite-timestamp (0.13): the
image's creation time is the wall clock's, so two builds without the cache differ, and the test
says so rather than skipping; a builder of BuildKit 0.13 or newer (CI's) must give one ID."""

import re
import subprocess

import pytest
from baking import tool
from harness import engine_env, run, tag

REWRITE_TIMESTAMP = (0, 13)  # BuildKit: SOURCE_DATE_EPOCH clamps the layers' file times


def buildkit_version(env) -> tuple[int, int]:
    listed = subprocess.run(
        ["docker", "buildx", "inspect"], env=env, capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"BuildKit version:\s+v(\d+)\.(\d+)", listed)
    assert found, listed
    return int(found[1]), int(found[2])


@pytest.fixture(scope="module")
def committed(baked_e2e):
    """A baked repository as a user's: a git repository with one commit."""
    repository = baked_e2e(private_packages="acme-sauce==1.0.0")
    git = ["git", "-C", str(repository), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "bake", "--date", "2026-03-04T05:06:07Z"],
                   env={"GIT_COMMITTER_DATE": "2026-03-04T05:06:07Z", "PATH": "/usr/bin:/bin"},
                   check=True)  # fmt: skip
    return repository


def image_id(engine: str, image: str, env) -> str:
    program = "podman" if engine == "podman" else "docker"
    found = subprocess.run(
        [program, "image", "inspect", "--format", "{{.Id}}", image],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return found.removeprefix("sha256:")


@pytest.mark.engine
@pytest.mark.parametrize("engine", ["podman", "buildx", "docker"])
def test_a_rebuild_of_the_same_commit(engine, committed, local_index):
    ids = []
    for attempt in range(2):
        image = tag(f"repro-{engine}", f"v{attempt}")
        env = engine_env(engine, IMAGE=image, NETRC=str(local_index[1]))
        status, output, _ = run(
            [tool("nox"), "-s", "build", "--", "--no-cache"], cwd=committed, env=env
        )
        assert status == 0, output[-4000:]
        assert "the last commit's time, 1772600767." in output
        ids.append(image_id(engine, image, env))
    if engine == "podman":
        assert ids[0] == ids[1], "podman with --timestamp must rebuild the same image"
    elif buildkit_version(env) >= REWRITE_TIMESTAMP:
        assert ids[0] == ids[1]
    else:  # BuildKit 0.8 stamps the wall clock: documented, and proved still true
        assert ids[0] != ids[1], "BuildKit here now rebuilds the same image: update the README"
