"""End to end: `nox -s cluster` in a baked repository, on buildx and podman, as a user runs it.

Checked apart from the task's own word: the engine's event stream shows which containers started
from which image, the engine's container list shows what is left afterwards, and while the cluster
runs, the head's Jobs API and GCS turn away requests without the run's token (read from the
engine's record of the containers), which is on no command line and in no output.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from baking import tool
from harness import RUN, engine_env, run, tag
from image_tasks.engine.detect import NAMES
from test_engines import record

ENGINES = tuple(n for n in NAMES if n != "docker")  # docker: buildx's daemon, its older CLI
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


# Run with the image's Python (its grpcio): one GCS call with no token; prints the status code.
GCS_PROBE = """
import sys, grpc
call = grpc.insecure_channel(sys.argv[1]).unary_unary("/ray.rpc.NodeInfoGcsService/GetAllNodeInfo")
try:
    call(b"", timeout=10)
    print("ANSWERED")
except grpc.RpcError as error:
    print(error.code().name)
"""


@dataclass
class Watched:
    """What a watcher saw of a cluster run while it was up."""

    containers: dict[str, dict] = field(default_factory=dict)  # id -> the engine's inspect record
    token: str = ""
    answers: dict[str, int | str] = field(default_factory=dict)  # request -> status
    processes: str = ""  # every command line on this machine (ps), once all nodes ran


def inspect(engine: str, container: str) -> dict | None:
    argv = [program(engine), "container", "inspect", container]
    found = subprocess.run(argv, capture_output=True, text=True, env=engine_env(engine))
    return json.loads(found.stdout)[0] if found.returncode == 0 else None


def http_status(url: str, token: str | None = None, body: dict | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def option(command: list[str], name: str) -> str:
    return next(arg.split("=", 1)[1] for arg in command if arg.startswith(f"--{name}="))


def probe_head(engine: str, image: str, head: dict) -> tuple[str, dict] | None:
    """Once the head's Jobs API answers the token the engine gave the head: the token, and what
    its Jobs API and its GCS answer without it (or with another)."""
    token = dict(item.split("=", 1) for item in head["Config"]["Env"]).get("RAY_AUTH_TOKEN", "")
    command = head["Config"]["Cmd"]
    host = option(command, "dashboard-host")
    jobs = f"http://{host}:{option(command, 'dashboard-port')}/api/jobs/"
    if http_status(jobs, token) != 200:
        return None
    gcs = subprocess.run(
        [program(engine), "run", "--rm", "--pull=never", "--network=host", image, "python3",
         "-c", GCS_PROBE, f"{host}:{option(command, 'port')}"],
        capture_output=True, text=True, env=engine_env(engine),
    )  # fmt: skip
    return token, {
        "jobs without a token": http_status(jobs),
        "job submitted without a token": http_status(jobs, body={"entrypoint": "id"}),
        "jobs with another token": http_status(jobs, "not-" + token),
        "gcs without a token": gcs.stdout.strip() or gcs.stderr[-2000:],
    }


def watch(engine: str, image: str, task: subprocess.Popen, stale: str, nodes: int) -> Watched:
    """Until the run's nodes all run `ray start`, or the run ends: each container's record, what
    the head answers without the token, and every command line on this machine."""
    seen = Watched()
    running = [program(engine), "ps", "-q", "--no-trunc", "--filter", TASK]
    running += ["--filter", f"ancestor={image}"]
    deadline = time.monotonic() + 180
    while task.poll() is None and time.monotonic() < deadline:
        listed = subprocess.run(running, capture_output=True, text=True, env=engine_env(engine))
        for container in set(listed.stdout.split()) - {stale} - set(seen.containers):
            if details := inspect(engine, container):
                seen.containers[container] = details
        heads = [c for c in seen.containers.values() if "ray-head" in c["Name"]]
        if heads and not seen.answers and (probed := probe_head(engine, image, heads[0])):
            seen.token, seen.answers = probed
        if seen.answers and len(seen.containers) == nodes:
            # A container the engine lists may still be in `runc init`: look until every node's
            # `ray start` runs, so the token is looked for in all of their command lines.
            ps = subprocess.run(["ps", "-e", "-ww", "-o", "args"], capture_output=True, text=True)
            seen.processes = ps.stdout
            if seen.processes.count("ray start") >= nodes:
                break
        time.sleep(0.3)
    return seen


def recording(engine: str, env: dict[str, str], folder: Path) -> Path:
    """Put a pass-through in front of the engine's program on env's PATH that appends each
    command line it is given to a log; return the log."""
    real = shutil.which(program(engine), path=env["PATH"])
    log = folder / "engine-commands.log"
    shim = folder / "bin" / program(engine)
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    env["PATH"] = f"{shim.parent}:{env['PATH']}"
    return log


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

    commands = recording(engine, env, tmp_path)
    log = tmp_path / "cluster.log"
    with container_starts(engine, tmp_path / "events.jsonl") as starts, log.open("w") as sink:
        began = time.monotonic()
        task = subprocess.Popen(
            [tool("nox"), "-s", "cluster"], cwd=repository, env=env, stdout=sink,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            seen = watch(engine, image, task, stale, nodes=3)
        finally:
            returncode = task.wait(timeout=600)
        seconds = time.monotonic() - began
    output = log.read_text()
    assert returncode == 0, output[-6000:]
    record(f"nox -s cluster ({engine})", seconds)
    print(output[-3000:])  # the task's own output, kept in the test log (-rA shows it)

    # Ray's token authentication was on: the head's Jobs API and GCS refused requests without the
    # token (or with another), and answered it; every node had the same, fresh token, which the
    # engine was given by name only.
    assert seen.answers == {
        "jobs without a token": 401,
        "job submitted without a token": 401,
        "jobs with another token": 403,
        "gcs without a token": "UNAUTHENTICATED",
    }, seen.answers
    assert len(seen.containers) == 3 and len(seen.token) >= 32
    for details in seen.containers.values():
        assert f"RAY_AUTH_TOKEN={seen.token}" in details["Config"]["Env"]
        assert "RAY_AUTH_MODE=token" in details["Config"]["Env"]
        command_line = json.dumps([details["Path"], details["Args"], details["Config"]["Cmd"]])
        assert seen.token not in command_line
    detached = [line for line in commands.read_text().splitlines() if " --detach " in line]
    assert len(detached) == 3 and all(" --env RAY_AUTH_TOKEN " in line for line in detached)
    assert seen.token not in commands.read_text()
    assert seen.processes.count("ray start") >= 3, seen.processes[-3000:]
    assert seen.token not in seen.processes
    assert seen.token not in output

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


# containers.run_of around a container podman refuses to remove (another container lives in its
# network namespace); argv: IMAGE TASK pass|fail. As the front doors do, a TaskError is printed.
LEFT_BEHIND = """
import subprocess, sys
from image_tasks.engine.containers import run_of
from image_tasks.engine.detect import detect
from image_tasks.errors import TaskError

image, task, outcome = sys.argv[1:]
try:
    with run_of(detect("podman"), task) as run:
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
