"""The test task: the repository's tests/, run against the built image, their result recorded
against the image's ID (`state.records`), which publish checks: it pushes only an image whose
whole test run passed on exactly those bytes."""

import os
import re
import subprocess
import sys
from collections.abc import Sequence

from image_tasks import settings
from image_tasks.engine.detect import detect
from image_tasks.state import records

# pytest's closing line: "===== 1 failed, 7 passed in 41.20s ====="
SUMMARY = re.compile(r"^=+ (.+?) =+$")


def test(
    *, image: str | None = None, engine: str | None = None, pytest_args: Sequence[str] = ()
) -> int:
    """Run tests/ against the built image: imports, Ray remote tasks, no credential files;
    record the result against the image's ID, which publish checks.

    The tests get the engine and the image through IMAGE and IMAGE_ENGINE. A run given pytest
    arguments may leave tests out, so it is not recorded."""
    config = settings.load(image, engine)
    chosen = detect(config.engine)
    image_id = chosen.require_image(config.image)
    env = {**os.environ, "IMAGE": config.image, "IMAGE_ENGINE": chosen.name}
    argv = [sys.executable, "-m", "pytest", str(settings.PROJECT_ROOT / "tests"), *pytest_args]
    process = subprocess.Popen(
        argv, env=env, cwd=settings.PROJECT_ROOT, stdout=subprocess.PIPE, text=True
    )
    summary = ""
    with process.stdout:
        for line in process.stdout:
            sys.stdout.write(line)
            found = SUMMARY.match(line.strip())
            summary = found[1] if found else summary
    status = process.wait()
    where = records.TESTS.relative_to(settings.PROJECT_ROOT)
    if pytest_args:
        print(f"Not recorded ({where}): pytest arguments may leave tests out.", file=sys.stderr)
    elif chosen.image_id(config.image) != image_id:
        print(
            f"Not recorded: {config.image} changed while it was tested (it was {image_id}).",
            file=sys.stderr,
        )
    else:
        run = records.record_test(config.image, image_id, status == 0, summary or f"exit {status}")
        outcome = "passed" if run.passed else "failed"
        print(f"Recorded: {image_id} tests {outcome}, {run.summary} ({where}).", file=sys.stderr)
    return status
