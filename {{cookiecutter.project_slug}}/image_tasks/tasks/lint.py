"""The lint task: the Dockerfile, the workflows and the Python, with the tools the lint group
pins."""

import shutil
import subprocess
import sys

from image_tasks import settings
from image_tasks.errors import TaskError

LINTERS = (
    ("hadolint", ["hadolint", "Dockerfile"]),
    ("zizmor", ["zizmor", "--offline", ".github/workflows", ".github/dependabot.yml"]),
    (
        "actionlint",
        ["actionlint", ".github/workflows/image.yml", ".github/workflows/template-check.yml"],
    ),
    ("ruff", ["ruff", "check", "."]),
    ("ruff", ["ruff", "format", "--check", "."]),
    ("lint-imports", ["lint-imports", "--no-cache"]),  # the import contract in pyproject.toml
)


def lint() -> int:
    """hadolint the Dockerfile, zizmor and actionlint the workflows, ruff and the import
    contract the Python.

    zizmor reads the Dependabot configuration too; lint-imports checks pyproject.toml's layers."""
    missing = sorted({tool for tool, _ in LINTERS if shutil.which(tool) is None})
    if missing:
        raise TaskError(
            f"Not installed: {', '.join(missing)}. Run `nox -s lint`, which installs them, or "
            "`pip install --group dev` (pip 25.1+) in this repository's virtualenv."
        )
    failed = []
    for tool, argv in LINTERS:
        print("$ " + " ".join(argv), file=sys.stderr, flush=True)
        if subprocess.run(argv, cwd=settings.PROJECT_ROOT, check=False).returncode != 0:
            failed.append(tool)
    if failed:
        print(f"lint: findings from {', '.join(dict.fromkeys(failed))}", file=sys.stderr)
        return 1
    return 0
