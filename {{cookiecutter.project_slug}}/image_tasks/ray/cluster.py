"""A local Ray cluster from an image, one container a node, as KubeRay runs pods: where each
node listens, starting them in order, and the smoke job through the head's Jobs API.

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
import shlex
import socket
import time
from dataclasses import dataclass

from image_tasks.engine.commands import Engine
from image_tasks.engine.containers import Run
from image_tasks.errors import TaskError
from image_tasks.ray import smoke_report
from image_tasks.ray.jobs import Dashboard

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


def _exited(engine: Engine, node: Node, container: str) -> TaskError | None:
    state = engine.container_state(container)
    if state == "running":
        return None
    return TaskError(
        f"The {node.name} container ({node.image}) stopped ({state or 'gone'}) before the cluster "
        f"was up. Its last log lines:\n{engine.logs(container)}\nThe image needs ray[default] "
        f"on PATH and the same Ray on every node; see {WORKER_HELP}."
    )


def _wait_for_nodes(
    engine: Engine, dashboard: Dashboard, started: dict[str, Node], deadline: float
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
    engine: Engine, dashboard: Dashboard, head: Node, container: str, deadline: float
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


def start(run: Run, nodes: list[Node], dashboard: Dashboard, deadline: float) -> str:
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


def smoke_job(
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
