"""One container engine's commands: argument lists to build, run, start, push, tag and save,
and the queries of its local store. Never shell strings, and never a secret: a secret travels
as a path or a variable name (the engine reads it; `detect` says which engines there are).
"""

import collections
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from image_tasks.errors import TaskError

TAIL_LINES = 200  # of an engine's output, kept to explain its failure
STOP_SECONDS = 60  # an interrupted engine's time to stop before it is killed

LABELS_JSON = "{{json .Config.Labels}}"  # the same template for docker and podman


@dataclass(frozen=True)
class Engine:
    name: str
    program: str
    env: dict[str, str] = field(default_factory=dict)

    def build_argv(
        self,
        *,
        image: str,
        dockerfile: Path,
        context: Path,
        secrets: Sequence[str],
        build_args: dict[str, str],
        host_network: bool,
        no_cache: bool = False,
        timestamp: int | None = None,
    ) -> list[str]:
        """The build command. timestamp (the commit's time): podman sets the image's time and
        its files' times to it; BuildKit reads SOURCE_DATE_EPOCH from its environment instead
        (docker's 20.10 BuildKit ignores it)."""
        if self.name == "buildx":
            # --load puts the image in the local store; no provenance, which can record build args.
            argv = [self.program, "buildx", "build", "--load", "--provenance=false"]
        elif self.name == "podman":
            # buildah stages the secret in the build container's storage: remove the containers
            # even when the build fails.
            argv = [self.program, "build", "--force-rm"]
            argv += [f"--timestamp={timestamp}"] if timestamp is not None else []
        else:
            argv = [self.program, "build"]
        for secret in secrets:
            argv += ["--secret", secret]
        for key, value in build_args.items():
            argv += ["--build-arg", f"{key}={value}"]
        if host_network:
            argv.append("--network=host")
        if no_cache:
            argv.append("--no-cache")
        return [*argv, "--tag", image, "--file", str(dockerfile), str(context)]

    def run_argv(self, image: str, command: Sequence[str], *, user: str | None = None) -> list[str]:
        # No network: what runs in the image must not need the index, or anything else. Never
        # pull: a missing local image must not be replaced by whatever the registry holds.
        as_user = ["--user", user] if user else []
        return [
            self.program, "run", "--rm", "--pull=never", "--network=none", "--shm-size=1g",
            *as_user, image, *command,
        ]  # fmt: skip

    def start_argv(
        self,
        image: str,
        command: Sequence[str],
        *,
        name: str,
        labels: dict[str, str],
        network: str,
        shm_size: str,
        env: Sequence[str] = (),
    ) -> list[str]:
        """Start a detached, named, labelled container; never pull (as run_argv). Each item of
        env is NAME=VALUE, or a NAME alone: the engine then copies that variable from its own
        environment (how a secret gets in without reaching a command line)."""
        options = [item for key, value in labels.items() for item in ("--label", f"{key}={value}")]
        options += [item for variable in env for item in ("--env", variable)]
        return [
            self.program, "run", "--detach", "--pull=never", f"--network={network}",
            f"--shm-size={shm_size}", "--name", name, *options, image, *command,
        ]  # fmt: skip

    def push_argv(self, image: str, *, plain_http: bool) -> list[str]:
        # Docker speaks plain http to loopback registries by itself; podman must be told.
        insecure = ["--tls-verify=false"] if plain_http and self.program == "podman" else []
        return [self.program, "push", *insecure, image]

    def tag_argv(self, image: str, new: str) -> list[str]:
        return [self.program, "tag", image, new]

    def image_id(self, image: str) -> str | None:
        """The local image's ID (its config digest, ``sha256:...``), or None if it is not in
        this engine's store. Never asks a registry."""
        found = self.query("image", "inspect", "--format", "{{.Id}}", image)
        if not found:
            return None
        return found if found.startswith("sha256:") else f"sha256:{found}"

    def require_image(self, image: str) -> str:
        """The local image's ID, or a TaskError that says to build it first."""
        found = self.image_id(image)
        if found is None:
            raise TaskError(
                f"The image {image} is not in {self.name}'s local store. Build it first "
                "(nox -s build), or name an image that exists locally with --image or IMAGE; "
                "the tasks never pull it from a registry."
            )
        return found

    def containers(self, label: str) -> dict[str, dict[str, str]]:
        """Every container, running or not, carrying the label (KEY or KEY=VALUE): id -> labels."""
        listed = self.query("ps", "--all", "--quiet", "--no-trunc", "--filter", f"label={label}")
        found = {}
        for container in (listed or "").split():
            labels = self.query("container", "inspect", "--format", LABELS_JSON, container)
            if labels is not None:  # else it went away meanwhile
                found[container] = json.loads(labels or "null") or {}
        return found

    def remove_containers(self, containers: Sequence[str]) -> None:
        """Stop and remove the containers with their anonymous volumes; gone ones are ignored."""
        if containers:
            self.query("rm", "--force", "--volumes", *containers)

    def container_state(self, container: str) -> str | None:
        """'running', 'exited', ... or None when there is no such container."""
        return self.query("container", "inspect", "--format", "{{.State.Status}}", container)

    def logs(self, container: str, lines: int = 20) -> str:
        """The last lines a container wrote (stdout and stderr together)."""
        argv = [self.program, "logs", "--tail", str(lines), container]
        result = self.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return result.stdout.strip()

    def image_labels(self, image: str) -> dict[str, str]:
        """The local image's labels ({} if it has none, or is not in the store)."""
        labels = self.query("image", "inspect", "--format", LABELS_JSON, image)
        return (json.loads(labels) or {}) if labels else {}

    def query(self, *arguments: str) -> str | None:
        """The engine command's output, stripped, or None when it fails."""
        result = self.run([self.program, *arguments], capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else None

    def save_argv(self, image: str, archive: Path) -> list[str]:
        extra = ["--format", "docker-archive"] if self.program == "podman" else []
        return [self.program, "save", *extra, "--output", str(archive), image]

    def run(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, **kwargs
    ) -> subprocess.CompletedProcess:
        """Run an engine command; env adds variables to the engine process's environment."""
        environment = {**os.environ, **self.env, **(env or {})}
        return subprocess.run(argv, env=environment, check=False, **kwargs)


def stream(
    engine: Engine, argv: Sequence[str], env: Mapping[str, str] | None = None
) -> tuple[int, str]:
    """Run a command, shown first, its output passed to stderr as it comes; return its exit
    status and the last lines of its output, so that a failure can be explained. env adds
    variables to the command's environment alone (a secret the engine reads from it).

    Interrupted (Ctrl-C, or SIGTERM turned into SystemExit), it stops the command before it
    goes on: a terminal's Ctrl-C reached the engine too, a SIGTERM came to this process alone."""
    print("$ " + " ".join(argv), file=sys.stderr, flush=True)
    tail: collections.deque[bytes] = collections.deque(maxlen=TAIL_LINES)
    process = subprocess.Popen(
        argv,
        env={**os.environ, **engine.env, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    finished = False
    try:
        for line in process.stdout:
            sys.stderr.buffer.write(line)
            sys.stderr.flush()
            tail.append(line)
        finished = True
    finally:
        process.stdout.close()
        if not finished and process.poll() is None:
            process.send_signal(signal.SIGINT)  # as a terminal's Ctrl-C: the engine stops
        try:
            status = process.wait(timeout=None if finished else STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            status = process.wait()
    return status, b"".join(tail).decode("utf-8", "replace")
