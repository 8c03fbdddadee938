"""An image saved from an engine's store as a docker-archive, for the audit to read."""

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from image_tasks.engine.commands import Engine
from image_tasks.engine.detect import detect
from image_tasks.errors import TaskError


@contextlib.contextmanager
def saved_archive(image: str, engine: Engine | None = None) -> Iterator[Path]:
    """The image saved as a docker-archive in a private temporary directory, removed afterwards."""
    engine = engine or detect(os.environ.get("IMAGE_ENGINE"))
    engine.require_image(image)
    with tempfile.TemporaryDirectory(prefix="image-audit-") as directory:
        archive = Path(directory) / "image.tar"
        result = engine.run(engine.save_argv(image, archive), stderr=subprocess.PIPE, text=True)
        if result.returncode != 0:
            raise TaskError(
                f"{engine.program} could not save {image!r} ({result.stderr.strip()}). Build it "
                "first (nox -s build) or name an image that exists in this engine's store."
            )
        yield archive
