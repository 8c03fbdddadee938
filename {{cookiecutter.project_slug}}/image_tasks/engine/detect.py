"""Which container engines can build with BuildKit secret mounts, and which one to use.

buildx: ``docker buildx build`` (Docker Desktop, Docker Engine with the buildx plugin);
docker: ``docker build`` with DOCKER_BUILDKIT=1 (an older docker CLI with BuildKit built in);
podman: ``podman build`` (Fedora/RHEL; buildah implements the same secret mounts).
Auto-detection tries them in that order. `NAMES` is the one list of them: the command line's
choices, the invoke help and the tests read it.
"""

import os
import re
import shutil
import subprocess
from collections.abc import Sequence

from image_tasks.engine.commands import Engine
from image_tasks.errors import TaskError

INSTALL_HINT = (
    "Install Docker with the buildx plugin (Docker Desktop, or Docker Engine plus "
    "docker-buildx-plugin; Debian/Ubuntu: docker.io and docker-buildx), or podman 4 or newer "
    "(dnf/apt-get install podman), and make sure its daemon or service is running"
)


def detect(name: str | None = None) -> Engine:
    """The requested engine, checked; or the first that works, in the order of NAMES."""
    if name:
        if name not in NAMES:
            raise TaskError(
                f"Unknown engine {name!r} (from IMAGE_ENGINE or --engine): choose one of "
                f"{', '.join(NAMES)}, or unset it to detect one."
            )
        return PROBES[name]()
    reasons = []
    for candidate in NAMES:
        try:
            return PROBES[candidate]()
        except TaskError as error:
            reasons.append(f"{candidate}: {error}")
    raise TaskError(
        "No container engine that can build with BuildKit secret mounts is available. "
        f"{INSTALL_HINT}. What was tried: {' '.join(reasons)}"
    )


def _output(argv: Sequence[str], env: dict[str, str] | None = None) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    result = subprocess.run(
        argv, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else None


def _major(version: str | None) -> int:
    match = re.match(r"v?(\d+)", version or "")
    return int(match[1]) if match else 0


def _docker_server() -> str:
    if shutil.which("docker") is None:
        raise TaskError("the docker CLI is not on PATH.")
    server = _output(["docker", "version", "--format", "{{.Server.Version}}"])
    if not server:
        raise TaskError(
            "the docker CLI cannot reach a Docker daemon (is it running, and may you use it?)."
        )
    if _major(server) < 18 or (_major(server) == 18 and not server.startswith("18.09")):
        raise TaskError(f"the Docker daemon is {server}; BuildKit secrets need 18.09 or newer.")
    return server


def _buildx() -> Engine:
    _docker_server()
    if _output(["docker", "buildx", "version"]) is None:
        raise TaskError("the docker buildx plugin is missing (docker-buildx-plugin).")
    return Engine("buildx", "docker")


def _docker() -> Engine:
    _docker_server()
    client = _output(["docker", "version", "--format", "{{.Client.Version}}"])
    # From 23.0 the CLI builds with BuildKit only through buildx; before, BuildKit is built in.
    if _major(client) >= 23 and _output(["docker", "buildx", "version"]) is None:
        raise TaskError(
            f"docker CLI {client} builds with BuildKit only through the buildx plugin, which is "
            "missing (install docker-buildx-plugin, or Debian's docker-buildx)."
        )
    return Engine("docker", "docker", env={"DOCKER_BUILDKIT": "1"})


def _podman() -> Engine:
    if shutil.which("podman") is None:
        raise TaskError("podman is not on PATH.")
    version = _output(["podman", "version", "--format", "{{.Client.Version}}"])
    if _major(version) < 4:
        raise TaskError(f"podman {version or '(unknown version)'} is too old; use podman 4+.")
    return Engine("podman", "podman")


# Each engine's check, in the order auto-detection tries them.
PROBES = {"buildx": _buildx, "docker": _docker, "podman": _podman}
NAMES = tuple(PROBES)
