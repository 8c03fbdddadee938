"""Helpers for the end-to-end tests: running commands as a user would, and an independent check
that a saved image holds no trace of a secret (written apart from the product's own audit)."""

import base64
import contextlib
import gzip
import hashlib
import io
import json
import os
import secrets
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard
from baking import tool

# Image tags of this run carry it: runs from two clones on one machine never share an image.
RUN = secrets.token_hex(3)


def tag(name: str, tag: str = "dev") -> str:
    """A local image reference unique to this test run."""
    return f"localhost/{name}-{RUN}:{tag}"


# How each engine is reached: "docker" puts Debian's docker CLI (20.10, BuildKit built in) first.
ENGINE_PATHS = {
    "buildx": os.environ["PATH"],
    "docker": f"/usr/bin:{os.environ['PATH']}",
    "podman": os.environ["PATH"],
}


def write_wheel(
    folder: Path, name: str, module: str, version: str, requires=(), body: str = ""
) -> Path:
    """A minimal pure-Python wheel, written by hand (no build backend, no network); `requires`
    are its Requires-Dist, `body` more lines of its module (other bytes, same version)."""
    dist = f"{name.replace('-', '_')}-{version}"
    requires_dist = "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    files = {
        f"{module}/__init__.py": f'VERSION = "{version}"\n{body}',
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        + requires_dist,
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{dist}.dist-info/top_level.txt": f"{module}\n",
    }
    record = []
    for path, text in files.items():
        digest = hashlib.sha256(text.encode()).digest()
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record.append(f"{path},sha256={encoded},{len(text.encode())}")
    files[f"{dist}.dist-info/RECORD"] = "\n".join([*record, f"{dist}.dist-info/RECORD,,"]) + "\n"
    wheel = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@contextlib.contextmanager
def serve_index(repository: Path, wheelhouse: Path, folder: Path):
    """`python -m image_tasks index` of a baked repository, serving wheelhouse until the block
    ends; yields (url, netrc path, password)."""
    tool("pypi-server")
    netrc = folder / "netrc"
    argv = [sys.executable, "-m", "image_tasks", "index", "--wheelhouse", str(wheelhouse)]
    process = subprocess.Popen(
        [*argv, "--netrc-out", str(netrc)],
        cwd=repository,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    banner = process.stdout.readline()
    while banner and not banner.startswith("Local index: "):
        banner = process.stdout.readline()
    assert banner, f"the index did not start (exit {process.wait()})"
    url = banner.split()[2]
    password = netrc.read_text().split("password ")[1].split()[0]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=5)
    assert refused.value.code == 401, "the local index must refuse anonymous requests"
    try:
        yield url, netrc, password
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert not netrc.exists(), "the throwaway netrc outlived the index"


def engine_env(engine: str, **extra: str) -> dict[str, str]:
    """The environment a user would have: this venv's tools on PATH, the engine chosen, and no
    credential unless the test gives one."""
    env = {k: v for k, v in os.environ.items() if k not in {"NETRC", "NET_RC", "IMAGE"}}
    env["PATH"] = f"{Path(sys.executable).parent}:{ENGINE_PATHS[engine]}"
    env["IMAGE_ENGINE"] = engine
    return {**env, **extra}


def run(argv, *, cwd: Path, env: dict[str, str], timeout: int = 1200) -> tuple[int, str, float]:
    """Run argv with its output captured; return (status, output, seconds)."""
    start = time.monotonic()
    result = subprocess.run(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=timeout,
    )  # fmt: skip
    return result.returncode, result.stdout, time.monotonic() - start


def lock(repository: Path, netrc: Path, engine: str = "buildx") -> str:
    """`python -m image_tasks lock` in a baked repository, as a user runs it next; its output."""
    argv = [sys.executable, "-m", "image_tasks", "lock"]
    status, output, _ = run(argv, cwd=repository, env=engine_env(engine, NETRC=str(netrc)))
    assert status == 0, output[-3000:]
    return output


def save_image(engine: str, image: str, archive: Path) -> None:
    program = "podman" if engine == "podman" else "docker"
    extra = ["--format", "docker-archive"] if program == "podman" else []
    argv = [program, "save", *extra, "--output", str(archive), image]
    subprocess.run(argv, check=True, env=engine_env(engine))


def encodings(secret: str) -> set[bytes]:
    """The secret and its base64 forms at every alignment, minus unstable edge characters."""
    raw = secret.encode()
    forms = {raw}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        forms.add(encoded[4 if shift else 0 : -4])
    return forms


def canary_places(archive: Path, secret: str) -> list[str]:
    """Every place in a saved image (manifests, config, each layer's file contents, names and
    link targets) that holds the secret, read with the standard tarfile module."""
    needles = encodings(secret)
    places = []

    def holds(data: bytes) -> bool:
        return any(needle in data for needle in needles)

    def scan(data: bytes, where: str) -> None:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        if holds(data):
            places.append(where)
        if len(data) > 512 and data[257:262] == b"ustar":
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                for member in layer:
                    if holds(member.name.encode()) or holds(member.linkname.encode()):
                        places.append(f"{where}:{member.name} (name)")
                    if member.isfile() and holds(layer.extractfile(member).read()):
                        places.append(f"{where}:{member.name}")

    with tarfile.open(archive) as outer:
        for member in outer:
            if member.isfile():
                scan(outer.extractfile(member).read(), member.name)
    return places


@dataclass(frozen=True)
class Registry:
    """The test registry: where it listens and its one account, and what users do with it."""

    host: str
    user: str
    password: str
    folder: Path

    def status(self, path: str) -> int | None:
        """The HTTP status the registry answers for path, asked with its account (or None)."""
        try:
            self.read(path)
            return 200
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return None

    def read(self, path: str, *accept: str) -> tuple[dict[str, str], bytes]:
        """(headers, body) of the registry's answer for path, asked with its account."""
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        request = urllib.request.Request(f"http://{self.host}{path}")
        request.add_header("Authorization", f"Basic {token}")
        if accept:
            request.add_header("Accept", ", ".join(accept))
        with urllib.request.urlopen(request, timeout=5) as response:
            return dict(response.headers), response.read()

    def login(self, engine: str, env: dict[str, str]) -> None:
        """`docker login` / `podman login` as a user would, the password on standard input."""
        program = "podman" if engine == "podman" else "docker"
        extra = ["--tls-verify=false"] if program == "podman" else []
        subprocess.run(
            [program, "login", *extra, "--username", self.user, "--password-stdin", self.host],
            input=self.password, env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip

    def user_env(self, folder: Path) -> dict[str, str]:
        """Engine logins of one test user, kept in their own files (never the machine's)."""
        return {
            "DOCKER_CONFIG": str(folder / "docker"),
            "REGISTRY_AUTH_FILE": str(folder / "auth.json"),
        }

    def skopeo(self, *argv: str, auth: Path) -> str:
        """skopeo with the user's login file, plain http to this loopback registry."""
        result = subprocess.run(
            ["skopeo", *argv], env={**os.environ, "REGISTRY_AUTH_FILE": str(auth)},
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return result.stdout

    def manifest(self, reference: str, auth: Path) -> tuple[str, dict]:
        """(digest, manifest) of what the registry serves for reference, read by skopeo."""
        raw = self.skopeo(
            "inspect", "--raw", "--tls-verify=false", f"docker://{reference}", auth=auth
        )
        return "sha256:" + hashlib.sha256(raw.encode()).hexdigest(), json.loads(raw)

    def has_repository(self, repository: str) -> bool:
        return self.status(f"/v2/{repository}/tags/list") == 200


def blob_places(folder: Path, values: list[str]) -> list[str]:
    """Every blob of an image copied from a registry (`skopeo copy ... dir:`), decompressed,
    and every file in it when it is a layer, that holds one of the secrets in any encoding."""
    needles = set().union(*(encodings(value) for value in values))
    places = []
    for blob in sorted(folder.iterdir()):
        data = blob.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        elif data[:4] == b"\x28\xb5\x2f\xfd":
            data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        if any(needle in data for needle in needles):
            places.append(blob.name)
        if len(data) > 512 and data[257:262] == b"ustar":
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                for member in layer:
                    if member.isfile() and any(
                        n in layer.extractfile(member).read() for n in needles
                    ):
                        places.append(f"{blob.name}:{member.name}")
    return places
