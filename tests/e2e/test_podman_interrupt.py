"""Ctrl-C or SIGTERM during a podman build leaves no build container and no copy of the index
password in podman's storage; a build task killed outright (SIGKILL, nothing can clean up)
leaves them, and the next build removes them and says so.

buildah stages a secret given from the environment in /dev/shm (one given as a file, in its
working container's storage) and, interrupted, leaves that copy and its working containers
(state "Storage": only `podman ps -a --external` lists them). They are searched here
independently of the product: every file written since the test began under podman's graph root
and run root, and in /dev/shm."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from baking import tool
from harness import engine_env, tag

# A secret-mounting step that holds the build long enough to interrupt it there.
SLOW_STEP = "RUN --mount=type=secret,id=netrc,uid=1000,gid=100,required=true sleep 300\n"


def storage_files_holding(secret: str, since: Path) -> list[str]:
    roots = subprocess.run(
        ["podman", "info", "--format", "{{.Store.GraphRoot}} {{.Store.RunRoot}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    listed = subprocess.run(
        ["find", *roots, "/dev/shm", "-type", "f", "-newer", str(since), "-print0"],
        capture_output=True, check=False,
    ).stdout  # fmt: skip
    files = [name for name in listed.decode().split("\0") if name]
    if not files:
        return []
    found = subprocess.run(
        ["xargs", "-0", "grep", "-lF", "--", secret], input=listed, capture_output=True
    )
    return found.stdout.decode().split()


def external_containers() -> set[str]:
    listed = subprocess.run(
        ["podman", "ps", "--all", "--external", "--no-trunc", "--format", "{{.ID}}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return set(listed.split())


@pytest.fixture
def slow_repository(baked_e2e):
    repository = baked_e2e(private_packages="acme-sauce==1.0.0")
    dockerfile = repository / "Dockerfile"
    text = dockerfile.read_text()
    first_run = text.index("\nRUN ")
    dockerfile.write_text(text[: first_run + 1] + SLOW_STEP + text[first_run + 1 :])
    return repository


def start_build(repository: Path, local_index) -> subprocess.Popen:
    """`nox -s build` on podman in a session of its own, as a terminal runs it; returns once the
    slow step (the secret mounted) is running."""
    env = engine_env("podman", NETRC=str(local_index[1]), IMAGE=tag("interrupted"))
    process = subprocess.Popen(
        [tool("nox"), "-s", "build", "--", "--no-cache"],
        cwd=repository, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "sleep 300" in line and "STEP" in line:
            break
    assert process.poll() is None, "".join(seen)[-3000:]
    time.sleep(3)  # the step's container is running, the secret copied in
    process.seen = seen
    return process


def finish(process: subprocess.Popen) -> str:
    rest, _ = process.communicate(timeout=180)
    return "".join(process.seen) + rest


@pytest.mark.engine
@pytest.mark.parametrize("sent", ["SIGINT to the terminal's group", "SIGTERM to the task"])
def test_an_interrupted_podman_build_leaves_no_container_and_no_password(
    sent, slow_repository, local_index, tmp_path
):
    since = tmp_path / "since"
    since.touch()
    before = external_containers()
    process = start_build(slow_repository, local_index)
    if sent.startswith("SIGINT"):
        os.killpg(process.pid, signal.SIGINT)
    else:
        python = subprocess.run(
            ["pgrep", "-g", str(process.pid), "-f", "image_tasks build"],
            capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        assert python, "the task's process was not found"
        os.kill(int(python[0]), signal.SIGTERM)
    output = finish(process)
    assert process.returncode != 0
    assert "Traceback" not in output and local_index[2] not in output
    assert "Removed the build's" in output, output[-3000:]
    assert external_containers() - before == set()
    assert storage_files_holding(local_index[2], since) == []


@pytest.mark.engine
def test_the_next_build_sweeps_what_a_killed_build_left(slow_repository, local_index, tmp_path):
    since = tmp_path / "since"
    since.touch()
    before = external_containers()
    process = start_build(slow_repository, local_index)
    os.killpg(process.pid, signal.SIGKILL)  # nothing gets to clean up
    process.wait(timeout=60)
    left = external_containers() - before
    assert left, "SIGKILL left no container: the sweep below proves nothing"
    assert storage_files_holding(local_index[2], since), "no copy of the password was left"

    # The next build (the slow step taken out) first removes what the killed one left.
    dockerfile = slow_repository / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace(SLOW_STEP, ""))
    env = engine_env("podman", NETRC=str(local_index[1]), IMAGE=tag("after-kill"))
    result = subprocess.run(
        [tool("nox"), "-s", "build"], cwd=slow_repository, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    swept = r"Removed \d+ build container\(s\) and \d+ staged netrc\(s\) that an interrupted"
    assert re.search(swept, result.stdout), result.stdout[-3000:]
    assert external_containers() & left == set()
    assert storage_files_holding(local_index[2], since) == []
