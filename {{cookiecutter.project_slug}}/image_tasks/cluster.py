"""The cluster task: a local Ray cluster from the built image, one container a node, as KubeRay
runs pods, proven by a smoke job submitted through the head's Jobs API.

The containers share the host network (it works with every engine, also where the daemon has no
bridge), so each node gets its own loopback address (127.0.0.N, N >= 2: Linux routes the whole
/8 to lo, and Ray replaces 127.0.0.1 with the host's own address) and its own ports. Ray binds
the dashboard, the client server and the agents' HTTP to that address, but its gRPC servers (GCS,
raylets, object managers, dashboard agents, workers) to every interface of the host, with no
option to change it: so every run turns on Ray's token authentication with a fresh token, which
these servers and the dashboard demand, and turns off the metrics endpoint (Prometheus, on every
interface, unauthenticated). No registry, no Kubernetes.
"""

import contextlib
import secrets
import shlex
import socket
import sys
import time
from dataclasses import dataclass

from image_tasks import containers, engines, settings, smoke_report, validation
from image_tasks.errors import TaskError
from image_tasks.ray_jobs import Dashboard

# The check the RayJob runs and the RayService serves, submitted as the smoke job.
SMOKE_JOB = settings.PROJECT_ROOT / "deploy" / "app" / "runtime_check.py"
MAX_WORKERS = 16
SHM_SIZE = "512m"  # each node's /dev/shm: room for its object store below
OBJECT_STORE_BYTES = 128 * 1024 * 1024
WORKER_HELP = "README.md, 'When a worker does not join'"


@dataclass(frozen=True)
class Node:
    name: str  # head, worker-1, ...
    ip: str
    image: str
    command: tuple[str, ...]


def _free_ports(count: int) -> list[int]:
    """Ports free on every address now, distinct from each other (held until all are chosen)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("", 0))
        return [sock.getsockname()[1] for sock in sockets]


def _address(node: int) -> str:
    return f"127.0.0.{node + 2}"


def plan(image: str, worker_image: str, workers: int) -> tuple[list[Node], str]:
    """The head and the workers, each with its address and ports; and the dashboard URL."""
    gcs, dashboard, client, *agents = _free_ports(3 + 1 + workers)
    common = (
        "--block", "--num-cpus=1", "--num-gpus=0", f"--object-store-memory={OBJECT_STORE_BYTES}",
        "--min-worker-port=0", "--max-worker-port=0",  # worker processes: ports the OS picks
        "--disable-usage-stats",
    )  # fmt: skip
    head_ip = _address(0)
    head_command = (
        "ray", "start", "--head", f"--node-ip-address={head_ip}", f"--port={gcs}",
        f"--dashboard-host={head_ip}", f"--dashboard-port={dashboard}",
        f"--ray-client-server-port={client}", f"--dashboard-agent-listen-port={agents[0]}",
        *common,
    )  # fmt: skip
    head = Node("head", head_ip, image, head_command)
    nodes = [head]
    for number in range(1, workers + 1):
        ip = _address(number)
        command = (
            "ray", "start", f"--address={head_ip}:{gcs}", f"--node-ip-address={ip}",
            f"--dashboard-agent-listen-port={agents[number]}", *common,
        )  # fmt: skip
        nodes.append(Node(f"worker-{number}", ip, worker_image, command))
    return nodes, f"http://{head_ip}:{dashboard}"


def _workers(count: int) -> str:
    return f"{count} worker{'s' if count > 1 else ''}"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _exited(engine: engines.Engine, node: Node, container: str) -> TaskError | None:
    state = engine.container_state(container)
    if state == "running":
        return None
    return TaskError(
        f"The {node.name} container ({node.image}) stopped ({state or 'gone'}) before the cluster "
        f"was up. Its last log lines:\n{engine.logs(container)}\nThe image needs ray[default] "
        f"on PATH and the same Ray on every node; see {WORKER_HELP}."
    )


def _wait_for_nodes(
    engine: engines.Engine, dashboard: Dashboard, started: dict[str, Node], deadline: float
) -> None:
    """Until every node is alive in the head's GCS; fail early when a container stops."""
    expected = {node.ip for node in started.values()}
    alive: set[str] = set()
    while time.monotonic() < deadline:
        for container, node in started.items():
            if error := _exited(engine, node, container):
                raise error
        alive = {node["node_ip"] for node in dashboard.alive_nodes()}
        if expected <= alive:
            return
        time.sleep(1)
    missing = [(c, n) for c, n in started.items() if n.ip not in alive]
    logs = "\n".join(f"--- {n.name} ({n.ip}):\n{engine.logs(c, 10)}" for c, n in missing)
    names = ", ".join(f"{n.name} ({n.ip})" for _, n in missing)
    raise TaskError(
        f"Not alive in the head's GCS within the timeout: {names}, though their containers "
        f"run. Their last log lines:\n{logs}\nA worker that cannot reach the head's GCS port, "
        f"or runs another Ray version, never joins: see {WORKER_HELP}; a slow machine may need "
        "a longer --timeout."
    )


def _wait_for_head(
    engine: engines.Engine, dashboard: Dashboard, head: Node, container: str, deadline: float
) -> str:
    while time.monotonic() < deadline:
        if error := _exited(engine, head, container):
            raise error
        if version := dashboard.ray_version():
            return version
        time.sleep(1)
    raise TaskError(
        f"The head's dashboard did not answer at {dashboard.url} within the timeout. Its last log "
        f"lines:\n{engine.logs(container)}\nThe image needs ray[default] (the dashboard and the "
        "job server), not bare ray; a slow machine may need a longer --timeout."
    )


def _smoke_job_inputs() -> tuple[str, list[str]]:
    """The check's source and the private distributions' names, read before anything starts."""
    requirements = settings.PROJECT_ROOT / "requirements.txt"
    try:
        source = SMOKE_JOB.read_text(encoding="utf-8")
        text = requirements.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TaskError(
            f"Cannot read {error.filename or 'a project file'} ({error.__class__.__name__}): the "
            "cluster task needs requirements.txt and deploy/app/runtime_check.py; restore them "
            "from the template."
        ) from None
    return source, validation.requirement_names(text)


def _start(run: containers.Run, nodes: list[Node], dashboard: Dashboard, deadline: float) -> str:
    """Start the head, then the workers once its dashboard answers and refuses requests without
    the token; wait until all are alive. Returns the head's Ray version, as its Jobs API reports
    it."""
    engine = run.engine

    def start(node: Node) -> str:
        return run.start(
            node.image,
            node.command,
            name=f"ray-{node.name}",
            shm_size=SHM_SIZE,
            env={"RAY_AUTH_MODE": "token", "RAY_enable_metrics_collection": "false"},
            secret_env={"RAY_AUTH_TOKEN": dashboard.token},
        )

    head, *workers = nodes
    started = {start(head): head}
    head_ray = _wait_for_head(engine, dashboard, head, next(iter(started)), deadline)
    if dashboard.answers_anonymous():
        raise TaskError(
            f"The head's dashboard answered a request without this run's token: Ray {head_ray} "
            f"in {head.image} does not enforce RAY_AUTH_MODE=token, so anyone who can reach this "
            "machine could run code on the cluster. Token authentication needs Ray 2.52.0 or "
            "newer: build from such a base image."
        )
    for node in workers:
        started[start(node)] = node
    _wait_for_nodes(engine, dashboard, started, deadline)
    return head_ray


def _smoke_job(
    dashboard: Dashboard, source: str, distributions: list[str], run_id: str, timeout: float
) -> dict[str, dict]:
    """Submit the check through the Jobs API; its report for each node, by node address."""
    submission = f"smoke-{run_id}"
    dashboard.submit(shlex.join(["python3", "-c", source, *distributions]), submission)
    status = dashboard.wait(submission, timeout)
    logs = dashboard.logs(submission)
    reports = smoke_report.by_address(logs)
    if not reports:  # it failed before reporting (a failing node reports, and fails the job)
        raise TaskError(
            f"The smoke job ended {status.get('status')} ({status.get('message')}) without "
            f"reporting on any node. Its log ends:\n{logs[-3000:]}"
        )
    return reports


def cluster(
    *,
    image: str | None = None,
    engine: str | None = None,
    workers: int = 2,
    worker_image: str | None = None,
    timeout: float = 180,
) -> int:
    """Start a local Ray cluster from the image (a head and N workers, each a container) and run
    a smoke job on every node through the head's Jobs API; remove every container afterwards."""
    if not 1 <= workers <= MAX_WORKERS:
        raise TaskError(f"--workers must be 1 to {MAX_WORKERS} (each worker is a container).")
    if timeout <= 0:
        raise TaskError("--timeout must be a positive number of seconds.")
    config = settings.load(image, engine)
    worker_image = validation.check_image(
        worker_image or config.image, what="worker image", allow_tag=True
    )
    source, distributions = _smoke_job_inputs()
    chosen = engines.detect(config.engine)
    for reference in dict.fromkeys((config.image, worker_image)):
        chosen.require_image(reference)
    expected_ray = chosen.image_labels(config.image).get("io.ray.version")
    nodes, url = plan(config.image, worker_image, workers)
    dashboard = Dashboard(url, token=secrets.token_urlsafe(32))
    start = time.monotonic()
    with containers.run_of(chosen, "cluster") as run:
        _say(f"Starting a Ray head and {_workers(workers)} from {config.image} on {chosen.name}.")
        head_ray = _start(run, nodes, dashboard, start + timeout)
        joined = time.monotonic() - start
        _say(f"All {len(nodes)} nodes alive after {joined:.0f} s; submitting the smoke job.")
        reports = _smoke_job(dashboard, source, distributions, run.run_id, timeout)
        for node in nodes:
            print(smoke_report.line(node.name, reports.get(node.ip, {"error": "no report"})))
        problems = smoke_report.problems(reports, nodes, expected_ray, head_ray)
        if problems:
            raise TaskError(
                f"The smoke job found: {'; '.join(problems)}. Every node must run an image built "
                f"from this repository (nox -s build) with the same Ray; see {WORKER_HELP}."
            )
        versions = next(iter(reports.values()))
        print(
            f"PASS: {len(nodes)} nodes (a head and {_workers(workers)}) from {config.image} joined "
            f"in {joined:.0f} s and each ran the smoke job, importing "
            f"{', '.join(distributions) or 'nothing'}; Ray {versions['ray']} and Python "
            f"{versions['python']} everywhere ({time.monotonic() - start:.0f} s in all)."
        )
    _say("Removed the cluster's containers.")
    return 0
