"""One source of truth for what the tasks build and where from: pyproject's [tool.image-tasks].

Environment variables override it for one run: IMAGE (image reference), IMAGE_ENGINE (buildx,
docker or podman), PRIVATE_INDEX_URL.
"""

import os
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

from image_tasks import validation
from image_tasks.errors import TaskError
from image_tasks.index.url import check_index_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TAG = "dev"


@dataclass(frozen=True)
class TaskSettings:
    image: str
    index_url: str
    engine: str | None
    secret_id: str
    runtime_uid: int
    frontend: str | None  # the Dockerfile's `# syntax=` image, which the engine pulls first
    base_image: str  # the Dockerfile's (last) FROM: what the lock is made on top of
    dockerfile: Path = PROJECT_ROOT / "Dockerfile"
    context: Path = PROJECT_ROOT


class DockerfileFacts(NamedTuple):
    secret_id: str
    runtime_uid: int
    frontend: str | None
    base_image: str


@cache
def configured() -> dict[str, str]:
    """[tool.image-tasks] from pyproject.toml: the image name and the private index URL."""
    path = PROJECT_ROOT / "pyproject.toml"
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))["tool"]["image-tasks"]
        values = {key: table[key] for key in ("image-name", "private-index-url")}
        if all(isinstance(value, str) for value in values.values()):
            return values
        problem = "a value that is not a string"
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError) as error:
        problem = f"{error.__class__.__name__}: {error}"
    raise TaskError(
        f"{path} lacks a valid [tool.image-tasks] table ({problem}). It needs the strings "
        "image-name and private-index-url; restore it from the template or fix it by hand."
    )


@cache
def dockerfile_facts(dockerfile: Path = PROJECT_ROOT / "Dockerfile") -> DockerfileFacts:
    """The secret id the Dockerfile mounts, the user it ends as, its frontend and its base
    image: the Dockerfile is their one source, so the tasks cannot drift from it."""
    try:
        text = dockerfile.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TaskError(f"Cannot read {dockerfile} ({error.__class__.__name__}).") from None
    secret_ids = re.findall(r"--mount=type=secret,id=([\w.-]+)", text)
    users = re.findall(r"^USER\s+(\d+)", text, re.MULTILINE)
    bases = re.findall(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)", text, re.MULTILINE | re.IGNORECASE)
    if not secret_ids or not users or not bases:
        raise TaskError(
            f"{dockerfile} must start FROM a base image, mount the index credential as a "
            "BuildKit secret (RUN --mount=type=secret,id=netrc,...) and end with a numeric USER "
            "uid:gid; restore those lines from the template."
        )
    # A parser directive counts only before the first instruction or other comment text.
    frontend = re.match(r"(?:#\s*\w+\s*=.*\n)*#\s*syntax\s*=\s*(\S+)", text, re.IGNORECASE)
    return DockerfileFacts(secret_ids[0], int(users[-1]), frontend and frontend[1], bases[-1])


def load(image: str | None = None, engine: str | None = None) -> TaskSettings:
    """Settings for this run: explicit options, then the environment, then pyproject.toml."""
    table = configured()
    if image:
        origin = "image given with --image"
    elif os.environ.get("IMAGE"):
        image, origin = os.environ["IMAGE"], "image in the IMAGE variable"
    else:
        image, origin = f"{table['image-name']}:{DEFAULT_TAG}", "image-name in pyproject.toml"
    index_url = os.environ.get("PRIVATE_INDEX_URL") or table["private-index-url"]
    secret_id, runtime_uid, frontend, base_image = dockerfile_facts()
    return TaskSettings(
        image=validation.check_image(image, what=origin, allow_tag=True),
        index_url=check_index_url(index_url),
        engine=engine or os.environ.get("IMAGE_ENGINE") or None,
        secret_id=secret_id,
        runtime_uid=runtime_uid,
        frontend=frontend,
        base_image=base_image,
    )
