"""End to end: `nox -s cluster` in a baked repository, on buildx and podman, as a user runs it.

Checked apart from the task's own word: the engine's event stream shows which containers started
from which image, and the engine's container list shows what is left afterwards.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from baking import tool
from harness import RUN, engine_env, run, tag
from test_engines import record

ENGINES = ("buildx", "podman")
TASK = "label=image-tasks.task=cluster"


def program(engine: str) -> str:
    return "podman" if engine == "podman" else "docker"


@contextlib.contextmanager
def container_starts(engine: str, log: Path):
    """Yield a function returning the (container id, image) of every cluster container started
    meanwhile, read from the engine's own event stream."""
    argv = [program(engine), "events", "--filter", "event=start", "--filter", TASK]
    argv += ["--format", "json" if engine == "podman" else "{{json .}}"]
    with log.open("w") as sink:
        watcher = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)
    time.sleep(1)  # the stream is live before the task starts

    def starts() -> list[tuple[str, str]]:
        events = [json.loads(line) for line in log.read_text().splitlines() if line]
        return [(e.get("ID") or e["id"], e.get("Image") or e["from"]) for e in events]

    try:
        yield starts
    finally:
        time.sleep(1)
        watcher.terminate()
        watcher.wait(timeout=30)


def leftovers(engine: str, image: str) -> list[str]:
    argv = [program(engine), "ps", "-aq", "--filter", TASK, "--filter", f"ancestor={image}"]
    listed = subprocess.run(
        argv, capture_output=True, text=True, check=True, env=engine_env(engine)
    )
    return listed.stdout.split()


@pytest.fixture(scope="module")
def repository(baked_e2e) -> Path:
    return baked_e2e()


@pytest.fixture(scope="module")
def image_for(repository, local_index):
    """image_for(engine): the baked repository's image, built once by its own `nox -s build`."""
    images = {}

    def build(engine: str) -> str:
        if engine not in images:
            image = tag(f"e2e-cluster-{engine}")
            env = engine_env(engine, IMAGE=image, NETRC=str(local_index[1]))
            status, output, _ = run([tool("nox"), "-s", "build"], cwd=repository, env=env)
            assert status == 0, output[-6000:]
            images[engine] = image
        return images[engine]

    return build


@pytest.mark.engine
@pytest.mark.parametrize("engine", ENGINES)
def test_nox_cluster_runs_three_nodes_from_the_image(engine, image_for, repository, tmp_path):
    image = image_for(engine)
    env = engine_env(engine, IMAGE=image)
    # A container a killed run left behind: its owner process (this test's child) is gone.
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = subprocess.run(
        [program(engine), "run", "-d", "--pull=never", "--network=none", "--label",
         "image-tasks.task=cluster", "--label", f"image-tasks.owner={os.uname().nodename}:"
         f"{dead.pid}", image, "sleep", "600"],
        capture_output=True, text=True, check=True, env=env,
    ).stdout.strip()  # fmt: skip

    with container_starts(engine, tmp_path / "events.jsonl") as starts:
        status, output, seconds = run([tool("nox"), "-s", "cluster"], cwd=repository, env=env)
    assert status == 0, output[-6000:]
    record(f"nox -s cluster ({engine})", seconds)
    print(output[-3000:])  # the task's own output, kept in the test log (-rA shows it)

    node_lines = [line.split() for line in output.splitlines() if line.startswith("  ")]
    nodes = {
        words[0]: words for words in node_lines if words[0] in {"head", "worker-1", "worker-2"}
    }
    assert set(nodes) == {"head", "worker-1", "worker-2"}, output[-3000:]
    for words in nodes.values():
        assert "acme_sauce" in words and "MISSING" not in words
    assert "PASS: 3 nodes" in output
    assert re.search(r"Removed [1-9]\d* container\(s\) left by an earlier cluster run", output)
    assert "Traceback" not in output

    started = starts()
    assert len({container for container, _ in started}) == 3, started
    assert {started_image for _, started_image in started} == {image}, started
    assert leftovers(engine, image) == []
    assert (
        stale
        not in subprocess.run(
            [program(engine), "ps", "-aq", "--no-trunc"], capture_output=True, text=True, env=env
        ).stdout
    )


@pytest.mark.engine
@pytest.mark.parametrize("engine", ENGINES)
def test_a_worker_without_the_private_package_fails_naming_it(
    engine, image_for, repository, provisioned
):
    image = image_for(engine)
    env = engine_env(engine, IMAGE=image)
    base = provisioned["RAYRT_RAY_IMAGE"]  # Ray without acme-sauce
    argv = [sys.executable, "-m", "image_tasks", "cluster", "--workers", "1"]
    status, output, _ = run([*argv, "--worker-image", base], cwd=repository, env=env)
    assert status == 2, output[-4000:]
    named = r"worker-1 \(127\.0\.0\.\d+, image [^)]+\) cannot import the private package acme-sauce"
    assert re.search(named, output), output[-4000:]
    assert "Traceback" not in output
    assert leftovers(engine, image) == [] and leftovers(engine, base) == []


@pytest.mark.engine
def test_invoke_cluster_does_the_same(image_for, repository):
    image = image_for("buildx")
    argv = [tool("invoke"), "cluster", "--workers", "1"]
    status, output, _ = run(argv, cwd=repository, env=engine_env("buildx", IMAGE=image))
    assert status == 0, output[-4000:]
    assert "PASS: 2 nodes (a head and 1 worker)" in output
    assert leftovers("buildx", image) == []


@pytest.mark.engine
@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
@pytest.mark.parametrize("engine", ENGINES)
def test_a_signal_during_the_run_leaves_nothing_behind(engine, sent, image_for, repository):
    image = image_for(engine)
    env = engine_env(engine, IMAGE=image)
    task = subprocess.Popen(
        [tool("nox"), "-s", "cluster"], cwd=repository, env=env, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not leftovers(engine, image) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert leftovers(engine, image), "no cluster container appeared"
    os.killpg(task.pid, sent)  # as a terminal's Ctrl-C, or CI cancelling a job, signals the group
    output, _ = task.communicate(timeout=120)
    while time.monotonic() < deadline:  # the task's own process outlives nox's by its clean-up
        try:
            os.killpg(task.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the task was still running two minutes after {sent.name}")
    assert leftovers(engine, image) == [], output[-3000:]
    assert "PASS" not in output


# Containers.run_of around a container podman refuses to remove (another container lives in its
# network namespace); argv: IMAGE TASK pass|fail. As the front doors do, a TaskError is printed.
LEFT_BEHIND = """
import subprocess, sys
from image_tasks import containers, engines
from image_tasks.errors import TaskError

image, task, outcome = sys.argv[1:]
try:
    with containers.run_of(engines.detect("podman"), task) as run:
        held = run.start(image, ["sleep", "600"], name="held", shm_size="64m")
        subprocess.run(
            ["podman", "run", "-d", "--pull=never", f"--network=container:{held}", "--label",
             f"{task}=dependent", image, "sleep", "600"], check=True, capture_output=True,
        )
        if outcome == "fail":
            raise TaskError("the run's own error.")
except TaskError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)
"""


@pytest.mark.engine
@pytest.mark.parametrize("outcome", ["pass", "fail"])
def test_containers_the_engine_keeps_are_reported(outcome, image_for, repository):
    image, task = image_for("podman"), f"e2e-left-behind-{RUN}-{outcome}"
    env = engine_env("podman")
    listed = ["podman", "ps", "-aq", "--no-trunc", "--filter"]
    try:
        status, output, _ = run([sys.executable, "-c", LEFT_BEHIND, image, task, outcome],
                                cwd=repository, env=env)  # fmt: skip
        held = subprocess.run([*listed, f"label=image-tasks.task={task}"], capture_output=True,
                              text=True, env=env).stdout.split()  # fmt: skip
    finally:
        for label in (f"{task}=dependent", f"image-tasks.task={task}"):  # dependents first
            found = subprocess.run([*listed, f"label={label}"], capture_output=True, text=True)
            if found.stdout.split():
                subprocess.run(["podman", "rm", "--force", "--time=0", *found.stdout.split()],
                               capture_output=True, env=env)  # fmt: skip
    assert status == 2 and len(held) == 1, output[-3000:]
    short = held[0][:12]
    report = next(line for line in output.splitlines() if "did not remove" in line)
    assert report == (
        f"error: podman did not remove 1 container(s) of this {task} run in 5 attempts: {short}. "
        f"Remove them with `podman rm --force --volumes {short}`, which also says why it refuses "
        f"(`podman ps -a --filter label=image-tasks.task={task}` lists every container of this "
        f"task); the next {task} run removes them too."
    )
    lines = output.strip().splitlines()
    if outcome == "fail":  # the note first, and the run's own error ends the task
        assert lines[-2:] == [report, "error: the run's own error."], output[-3000:]
    else:
        assert lines[-1] == report, output[-3000:]
    assert "Traceback" not in output
