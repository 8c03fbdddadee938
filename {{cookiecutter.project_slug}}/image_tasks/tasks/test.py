"""The test task: the repository's tests/, run against the built image."""

import os
import subprocess
import sys
from collections.abc import Sequence

from image_tasks import settings
from image_tasks.engine.detect import detect


def test(
    *, image: str | None = None, engine: str | None = None, pytest_args: Sequence[str] = ()
) -> int:
    """Run tests/ against the built image: imports, Ray remote tasks, no credential files.

    The tests get the engine and the image through IMAGE and IMAGE_ENGINE."""
    config = settings.load(image, engine)
    chosen = detect(config.engine)
    chosen.require_image(config.image)
    env = {**os.environ, "IMAGE": config.image, "IMAGE_ENGINE": chosen.name}
    argv = [sys.executable, "-m", "pytest", str(settings.PROJECT_ROOT / "tests"), *pytest_args]
    return subprocess.run(argv, env=env, cwd=settings.PROJECT_ROOT, check=False).returncode
