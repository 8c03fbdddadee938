"""The act test's fixture: one baked repository (acme/ray-runtime, a git repository with the
tag v1.2.3), built against the session's password-protected index and pushing to the session's
registry, with setup-python's tool-cache entry made once for every event."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from act_runner import make_tool_cache
from act_workflow import load
from act_world import RELEASE, REPOSITORY, WORKFLOW, World, git
from harness import RUN


@pytest.fixture(scope="module")
def world(baked_e2e, local_index, registry, tmp_path_factory) -> Iterator[World]:
    image_repository = f"act-{RUN}/ray-runtime"
    checkout = baked_e2e(
        github_owner=REPOSITORY.split("/")[0],
        registry=registry.host,
        image_name=f"{registry.host}/{image_repository}",
    )
    git(checkout, "init", "--quiet")
    git(checkout, "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git")
    git(checkout, "add", "--all")
    git(checkout, "commit", "--quiet", "--message", "Baked from cookiecutter-ray-runtime")
    git(checkout, "tag", RELEASE)
    folder = tmp_path_factory.mktemp("act")
    cache = folder / "cache"
    make_tool_cache(cache / "tool_cache", str(load(checkout / WORKFLOW)["env"]["PYTHON_VERSION"]))
    world = World(checkout, registry, image_repository, local_index[1].read_text(), folder, cache)
    yield world
    remove_local_images(f"{registry.host}/{image_repository}")


def remove_local_images(repository: str) -> None:
    """The images the runs left in the daemon under repository: by tag, then those a later
    build took the tag from (listed under the repository without one), by ID."""
    listed = subprocess.run(
        ["docker", "images", "--format", "{{.Tag}} {{.ID}}", repository],
        capture_output=True, text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    pairs = [line.split() for line in listed if line.strip()]
    tagged = [f"{repository}:{tag}" for tag, _ in pairs if tag != "<none>"]
    untagged = [image_id for tag, image_id in pairs if tag == "<none>"]
    for names in (tagged, untagged):
        if names:
            subprocess.run(["docker", "image", "rm", *names], capture_output=True, check=False)
