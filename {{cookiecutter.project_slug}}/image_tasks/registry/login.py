"""The registry credential an engine's own login stored: `docker login`, `podman login`, or
docker/login-action in CI. Read from the files and credential helpers those commands use, as
the engines read them; never printed, never put on a command line (a helper gets the registry
on standard input and answers on standard output).
"""

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from image_tasks.errors import TaskError

# How Docker names Docker Hub in its config, whatever the image reference said.
DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io")


@dataclass(frozen=True)
class Login:
    username: str
    secret: str
    identity_token: bool = False  # an OAuth refresh token (Username "<token>"), not a password

    def __repr__(self) -> str:  # never shown, even by a debugger or a traceback
        return f"Login(username={self.username!r}, secret=***)"


def docker_config() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"


def podman_auth_files() -> list[Path]:
    """containers-auth.json(5): where podman keeps logins, in the order it reads them."""
    files = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        files.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/containers/{os.getuid()}"
    files.append(Path(runtime) / "containers" / "auth.json")
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    files.append(Path(config) / "containers" / "auth.json")
    return files


def find(host: str, repository: str, engine: str) -> Login | None:
    """The stored login for ``host`` (and ``repository``, for podman's per-namespace entries),
    looked up where ``engine`` (buildx, docker or podman) keeps it; None when there is none."""
    files = [*podman_auth_files(), docker_config()] if engine == "podman" else [docker_config()]
    hub = host in ("docker.io", "registry-1.docker.io", "index.docker.io")
    keys = _keys(host, repository, hub)
    server = DOCKER_HUB_KEYS[0] if hub else host  # what credential helpers are asked for
    for path in files:
        config = _read(path)
        if config is None:
            continue
        login = _from_helpers(config, keys, server) or _from_auths(
            config.get("auths") or {}, keys, path
        )
        if login is not None:
            return login
    return None


def _keys(host: str, repository: str, hub: bool) -> list[str]:
    """Config keys that can hold this registry's login, most specific first."""
    if hub:
        return [f"docker.io/{repository}", *DOCKER_HUB_KEYS]
    parts = repository.split("/")
    namespaces = [f"{host}/{'/'.join(parts[:n])}" for n in range(len(parts), 0, -1)]
    return [*namespaces, host, f"https://{host}", f"http://{host}"]


def _read(path: Path) -> dict | None:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise TaskError(
            f"The engine's login file {path} is unreadable or not JSON. Log in again "
            "(docker login / podman login REGISTRY) or repair the file."
        ) from None
    return config if isinstance(config, dict) else None


def _from_auths(auths: dict, keys: list[str], path: Path) -> Login | None:
    normalised = {_strip(key): value for key, value in auths.items()}
    for key in keys:
        entry = normalised.get(_strip(key))
        if not isinstance(entry, dict):
            continue
        if entry.get("identitytoken"):
            return Login("<token>", entry["identitytoken"], identity_token=True)
        try:
            username, _, password = base64.b64decode(entry.get("auth", "")).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise TaskError(
                f"The login stored in {path} for {key} is malformed. Log in again "
                "(docker login / podman login)."
            ) from None
        if username:
            return Login(username, password)
    return None


def _strip(key: str) -> str:
    """'https://host/v1/' and 'host' name the same registry."""
    for scheme in ("https://", "http://"):
        key = key.removeprefix(scheme)
    return key.removesuffix("/").removesuffix("/v1").removesuffix("/v2")


def _from_helpers(config: dict, keys: list[str], server: str) -> Login | None:
    helpers = config.get("credHelpers") or {}
    for key in keys:
        if key in helpers:
            return _ask_helper(helpers[key], server)
    store = config.get("credsStore")
    return _ask_helper(store, server) if store else None


def _ask_helper(helper: str, server: str) -> Login | None:
    """docker-credential-HELPER get: the server on stdin, JSON on stdout (the secret stays in
    the pipe)."""
    program = f"docker-credential-{helper}"
    try:
        result = subprocess.run(
            [program, "get"], input=server, capture_output=True, text=True, check=False,
            timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        raise TaskError(
            f"The engine's login is kept by the credential helper {program}, which could not "
            "be run. Install it, or log in again without it."
        ) from None
    if result.returncode != 0:
        return None  # "credentials not found in native keychain": no login for this server
    try:
        answer = json.loads(result.stdout)
    except ValueError:
        raise TaskError(f"The credential helper {program} gave an unreadable answer.") from None
    username, secret = answer.get("Username", ""), answer.get("Secret", "")
    if not secret:
        return None
    return Login(username, secret, identity_token=username == "<token>")
