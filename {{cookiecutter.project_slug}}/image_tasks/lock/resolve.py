"""Resolve requirements.in into a lock with uv (`uv pip compile --generate-hashes`), against the
private index alone, for the base image's Python and platform.

uv, not pip-tools: it resolves for another Python and platform than the one it runs on (the
image's, from a Mac too), reads no pip configuration (an extra index in a pip.conf would be
dependency confusion), takes the credential from its environment alone, and Dependabot compiles
a lock whose header says `uv pip compile` again with uv, against the registry its `registries:`
block names. The credential reaches uv as UV_INDEX_PRIVATE_USERNAME and _PASSWORD for the index
named "private": never on a command line, never in a file; uv's cache is a private temporary
folder, removed afterwards.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from image_tasks.errors import TaskError
from image_tasks.lock.base import Base
from image_tasks.lock.lockfile import BASE, INPUT, LOCK

# What the lock's header shows as the command that wrote it. Dependabot reads "uv pip compile"
# there to compile the lock again with uv, and --generate-hashes to keep the hashes.
COMMAND = (
    "nox -s lock  (uv pip compile --generate-hashes, the base image's packages as constraints)"
)
INDEX_NAME = "private"


def uv() -> str:
    found = shutil.which("uv")
    if found is None:
        raise TaskError(
            "uv is not installed: `nox -s lock` installs it (the lock dependency group), or "
            "`python -m pip install uv` before `python -m image_tasks lock`."
        )
    return found


def compile_lock(
    root: Path, index_url: str, base: Base, login: str, password: str, *, upgrade: bool
) -> str:
    """The lock's text as uv writes it, resolved in a private folder from copies of
    requirements.in and the base's constraints (nothing in the repository changes here); the
    existing lock's pins are kept where they still fit, unless upgrade."""
    with tempfile.TemporaryDirectory(prefix="image-lock-") as private:
        folder = Path(private)
        shutil.copyfile(root / INPUT, folder / INPUT)
        (folder / BASE).write_text(base.constraints(), encoding="utf-8")
        if (root / LOCK).is_file() and not upgrade:
            shutil.copyfile(root / LOCK, folder / LOCK)  # uv prefers the pins it finds there
        argv = [
            uv(), "pip", "compile", "--quiet", "--generate-hashes",
            "--default-index", f"{INDEX_NAME}={index_url}",
            "--python-version", base.python, "--python-platform", base.platform,
            "--custom-compile-command", COMMAND,
            *(["--upgrade"] if upgrade else []),
            "--output-file", LOCK, INPUT,
        ]  # fmt: skip
        # uv reads settings from the environment and config files: none of the user's.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
        env |= {
            "UV_NO_CONFIG": "1",
            "UV_CACHE_DIR": str(folder / "cache"),
            "UV_NO_PROGRESS": "1",
            "NETRC": os.devnull,  # the one credential is the index's, below
            f"UV_INDEX_{INDEX_NAME.upper()}_USERNAME": login,
            f"UV_INDEX_{INDEX_NAME.upper()}_PASSWORD": password,
        }
        result = subprocess.run(
            argv, cwd=folder, env=env, stderr=subprocess.PIPE, text=True, check=False
        )
        if result.returncode != 0:
            said = result.stderr.strip()[-1500:]
            raise TaskError(
                "uv could not resolve requirements.in against the private index on top of the "
                f"base image's packages:\n{said.replace(password, '***') if password else said}\n"
                "Nothing was written."
            )
        return (folder / LOCK).read_text(encoding="utf-8")
