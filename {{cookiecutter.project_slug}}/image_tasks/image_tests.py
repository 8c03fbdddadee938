"""The test task: the repository's tests/, run against the built image."""

import os
import subprocess
import sys
from collections.abc import Sequence

from image_tasks import engines, settings


def test(
    *, image: str | None = None, engine: str | None = None, pytest_args: Sequence[str] = ()
) -> int:
    """Run tests/ against the built image, with the engine and image the tests should use."""
    config = settings.load(image, engine)
    chosen = engines.detect(config.engine)
    chosen.require_image(config.image)
    env = {**os.environ, "IMAGE": config.image, "IMAGE_ENGINE": chosen.name}
    argv = [sys.executable, "-m", "pytest", str(settings.PROJECT_ROOT / "tests"), *pytest_args]
    return subprocess.run(argv, env=env, cwd=settings.PROJECT_ROOT, check=False).returncode
