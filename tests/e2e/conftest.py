"""Real engines, a real password-protected index, real images: shared, built once per run.

.ci/provision installs the engines and makes the base images and the wheelhouse (no registry is
reachable here); these fixtures start the baked repository's own local index (pypiserver with a
random password: the canary) and bake repositories against it.
"""

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from baking import bake, need, tool
from harness import Registry, lock, serve_index, write_wheel

STATE = Path(os.environ.get("RAYRT_STATE", "/var/tmp/rayrt"))
PRIVATE_PACKAGE = "acme-sauce"
PRIVATE_MODULE = "acme_sauce"


@pytest.fixture(scope="session")
def provisioned() -> dict[str, str]:
    env_file = STATE / "env"
    need(env_file.is_file(), f"{env_file} is missing: run .ci/provision")
    for engine in ("docker", "podman"):
        need(shutil.which(engine) is not None, f"{engine} is not installed")
    daemon = subprocess.run(["docker", "info"], capture_output=True, check=False)
    need(daemon.returncode == 0, "the Docker daemon is not running")
    return dict(line.split("=", 1) for line in env_file.read_text().split())


@pytest.fixture(scope="session")
def wheelhouse(provisioned, tmp_path_factory) -> Path:
    """The private package, plus Ray's wheels for images whose base lacks Ray."""
    folder = tmp_path_factory.mktemp("wheelhouse")
    write_wheel(folder, PRIVATE_PACKAGE, PRIVATE_MODULE, "1.0.0")
    for wheel in Path(provisioned["RAYRT_WHEELHOUSE"]).glob("*.whl"):
        (folder / wheel.name).symlink_to(wheel)
    return folder


@pytest.fixture(scope="session")
def local_index(wheelhouse, tmp_path_factory):
    """The baked repository's own `index` task, password-protected, serving the wheelhouse for
    the whole run; yields (url, netrc path, password)."""
    repository = bake(tmp_path_factory.mktemp("index-repo"))
    with serve_index(repository, wheelhouse, tmp_path_factory.mktemp("index-credentials")) as index:
        yield index


@pytest.fixture(scope="session")
def baked_e2e(provisioned, local_index, tmp_path_factory):
    """bake(**answers): a repository baked against the local index and the ray-like base image,
    locked as a user does next (`python -m image_tasks lock`)."""

    def _bake(locked: bool = True, **answers: str) -> Path:
        defaults = {
            "base_image": provisioned["RAYRT_RAY_IMAGE"],
            "ray_version": provisioned["RAYRT_RAY_VERSION"],
            "dockerfile_syntax": "",  # no frontend image can be pulled here
            "private_index_url": local_index[0],
            "private_packages": f"{PRIVATE_PACKAGE}>=1,<2",
        }
        repository = bake(tmp_path_factory.mktemp("e2e"), **{**defaults, **answers})
        if locked:
            lock(repository, local_index[1])
        return repository

    return _bake


@pytest.fixture(scope="session")
def registry(provisioned, tmp_path_factory) -> Registry:
    """A real registry (Debian's docker-registry, the CNCF distribution registry) on loopback,
    with htpasswd auth and a random password, for the whole run."""
    server = tool("docker-registry")
    folder = tmp_path_factory.mktemp("registry")
    password = "reg-" + secrets.token_urlsafe(18)
    htpasswd = subprocess.run(
        [tool("htpasswd"), "-niB", "pusher"],
        input=password,
        capture_output=True,
        text=True,
        check=True,
    ).stdout  # fmt: skip (the password on stdin, never on a command line)
    (folder / "htpasswd").write_text(htpasswd)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (folder / "config.yml").write_text(
        f"version: 0.1\nlog: {{level: warn}}\n"
        f"storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
        f"auth: {{htpasswd: {{realm: e2e, path: {folder / 'htpasswd'}}}}}\n"
    )
    log = (folder / "registry.log").open("w")
    process = subprocess.Popen(
        [server, "serve", str(folder / "config.yml")], stdout=log, stderr=log
    )
    registry = Registry(f"127.0.0.1:{port}", "pusher", password, folder)
    deadline = time.monotonic() + 30
    while registry.status("/v2/") != 200:
        assert process.poll() is None and time.monotonic() < deadline, (
            folder / "registry.log"
        ).read_text()
        time.sleep(0.2)
    yield registry
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def auditor(tmp_path_factory):
    """A baked repository: its audit is what runs in every user's `nox -s audit`."""
    return bake(tmp_path_factory.mktemp("auditor"))


@pytest.fixture(scope="module")
def credential(tmp_path_factory):
    """A netrc (mode 600) for nexus.example.com, and its random password (the canary)."""
    password = "seed-" + secrets.token_urlsafe(18)
    netrc = tmp_path_factory.mktemp("seed-credential") / "netrc"
    netrc.write_text(f"machine nexus.example.com\nlogin deploy\npassword {password}\n")
    netrc.chmod(0o600)
    return netrc, password
