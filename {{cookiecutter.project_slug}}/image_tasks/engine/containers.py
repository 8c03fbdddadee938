"""Containers a task starts for one run and must never leave behind.

Every container carries the task, the run and its owner (host and process) as labels, so the run
removes exactly its own on success, failure, Ctrl-C and SIGTERM, and the next run of the task
removes what a killed run (SIGKILL, a lost machine session) could not.
"""

import contextlib
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from image_tasks.engine.commands import Engine
from image_tasks.errors import TaskError

TASK_LABEL = "image-tasks.task"
RUN_LABEL = "image-tasks.run"
OWNER_LABEL = "image-tasks.owner"  # HOST:PID of the process that started the container
REMOVE_ATTEMPTS = 5  # a container still starting may refuse removal for a moment


def owner() -> str:
    """HOST:PID of this process: who started a container, or mounted a build's secret."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_gone(who: str) -> bool:
    """True when the owner ran on this host and its process no longer exists (a reused pid only
    keeps a leftover until that process ends)."""
    host, _, pid = who.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's run, or not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    return False


@dataclass
class Run:
    """The containers of one run of a task, started through the engine."""

    engine: Engine
    task: str
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def labels(self) -> dict[str, str]:
        return {TASK_LABEL: self.task, RUN_LABEL: self.run_id, OWNER_LABEL: owner()}

    def start(
        self,
        image: str,
        command: Sequence[str],
        *,
        name: str,
        shm_size: str,
        env: Mapping[str, str] | None = None,
        secret_env: Mapping[str, str] | None = None,
    ) -> str:
        """Start a detached container on the host network; return its id. secret_env reaches
        the container through the engine process's environment, its values never through the
        engine's command line (which `ps` shows) or this process's own environment."""
        plain = [f"{key}={value}" for key, value in (env or {}).items()]
        argv = self.engine.start_argv(
            image,
            command,
            name=f"{name}-{self.run_id}",
            labels=self.labels,
            network="host",
            shm_size=shm_size,
            env=[*plain, *(secret_env or {})],
        )
        with _signals_held(deliver=True):
            # Its own session: a terminal's Ctrl-C reaches this process alone, never an engine
            # midway through creating a container (podman then leaves it half-made).
            result = self.engine.run(
                argv, env=secret_env, capture_output=True, text=True, start_new_session=True
            )
        if result.returncode != 0:
            raise TaskError(
                f"{self.engine.program} could not start the {name} container from {image} "
                f"({result.stderr.strip()[-600:]}). The image must be in the local store (nox -s "
                f"build) and have `{command[0]}` on its PATH, and the engine must allow host "
                "networking."
            )
        return result.stdout.strip().splitlines()[-1]

    def remove(self) -> list[str]:
        """Remove every container of this run, found by its label: also one whose start was
        interrupted before its id came back. Returns those still there after the attempts."""
        for attempt in range(REMOVE_ATTEMPTS):
            mine = list(self.engine.containers(f"{RUN_LABEL}={self.run_id}"))
            if not mine:
                return []
            self.engine.remove_containers(mine)
            time.sleep(attempt)
        return list(self.engine.containers(f"{RUN_LABEL}={self.run_id}"))

    def remove_leftovers(self) -> int:
        """Remove this task's containers whose owning process is gone; return how many."""
        stale = [
            container
            for container, labels in self.engine.containers(f"{TASK_LABEL}={self.task}").items()
            if owner_is_gone(labels.get(OWNER_LABEL, ""))
        ]
        self.engine.remove_containers(stale)
        return len(stale)


def _left_behind(run: Run, containers: Sequence[str]) -> str:
    program, ids = run.engine.program, " ".join(container[:12] for container in containers)
    return (
        f"{program} did not remove {len(containers)} container(s) of this {run.task} run in "
        f"{REMOVE_ATTEMPTS} attempts: {ids}. Remove them with `{program} rm --force --volumes "
        f"{ids}`, which also says why it refuses (`{program} ps -a --filter "
        f"label={TASK_LABEL}={run.task}` lists every container of this task); the next "
        f"{run.task} run removes them too."
    )


def _terminate(signum, frame) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _signals_held(*, deliver: bool) -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done; then deliver them, or drop them (a
    second Ctrl-C must not cut the clean-up short)."""
    held: list[int] = []
    handlers = {
        sig: signal.signal(sig, lambda signum, frame: held.append(signum))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(held) if deliver else ():
            signal.raise_signal(sig)


@contextlib.contextmanager
def run_of(engine: Engine, task: str) -> Iterator[Run]:
    """A Run whose containers are all removed however the block ends; SIGTERM ends it like
    Ctrl-C does (through the finally), and signals wait while the containers are removed. What
    the engine does not remove is reported: as the task's error, or before the run's own."""
    run = Run(engine, task)
    previous = signal.signal(signal.SIGTERM, _terminate)
    failed = True
    try:
        removed = run.remove_leftovers()
        if removed:
            print(
                f"Removed {removed} container(s) left by an earlier {task} run that was killed.",
                file=sys.stderr,
            )
        yield run
        failed = False
    finally:
        with _signals_held(deliver=False):
            left = run.remove()
        signal.signal(signal.SIGTERM, previous)
        if left and not failed:
            raise TaskError(_left_behind(run, left))
        if left:  # the run's own error follows and ends the task
            print(f"error: {_left_behind(run, left)}", file=sys.stderr)
