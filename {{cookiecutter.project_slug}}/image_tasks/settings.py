"""One source of truth for what the tasks build and where from: pyproject's [tool.image-tasks].

Environment variables override it for one run: IMAGE (image reference), IMAGE_ENGINE (buildx,
docker or podman), PRIVATE_INDEX_URL.
"""

import os
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from image_tasks import validation
from image_tasks.errors import TaskError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TAG = "dev"


@dataclass(frozen=True)
class Settings:
    image: str
    index_url: str
    engine: str | None
    secret_id: str
    runtime_uid: int
    dockerfile: Path = PROJECT_ROOT / "Dockerfile"
    context: Path = PROJECT_ROOT


@cache
def configured() -> dict:
    path = PROJECT_ROOT / "pyproject.toml"
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))["tool"]["image-tasks"]
        return {
            key: table[key]
            for key in ("image-name", "private-index-url", "secret-id", "runtime-uid")
        }
    except (OSError, tomllib.TOMLDecodeError, KeyError) as error:
        raise TaskError(
            f"{path} lacks a valid [tool.image-tasks] table ({error.__class__.__name__}: {error}). "
            "It needs image-name, private-index-url, secret-id and runtime-uid; restore it from "
            "the template (cruft update) or fix it by hand."
        ) from None


def load(image: str | None = None, engine: str | None = None) -> Settings:
    """Settings for this run: explicit options, then the environment, then pyproject.toml."""
    table = configured()
    image = image or os.environ.get("IMAGE") or f"{table['image-name']}:{DEFAULT_TAG}"
    index_url = os.environ.get("PRIVATE_INDEX_URL") or table["private-index-url"]
    return Settings(
        image=validation.check_image(image, what="image (IMAGE)", allow_tag=True),
        index_url=validation.check_index_url(index_url),
        engine=engine or os.environ.get("IMAGE_ENGINE") or None,
        secret_id=table["secret-id"],
        runtime_uid=int(table["runtime-uid"]),
    )
