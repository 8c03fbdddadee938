"""The repository's state folder, `.image-tasks/` (git-ignored): what the tasks remember
between runs, such as the audit's records and what publish pushed; and the one way the tasks
write a file they own (there, or the lock beside the Dockerfile)."""

import json
import os
import stat
import tempfile
from pathlib import Path

from image_tasks.settings import PROJECT_ROOT

FOLDER = PROJECT_ROOT / ".image-tasks"


def write(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Whole or not at all: a temporary file in the same folder, then a rename. A file that
    exists keeps its mode; a new one gets `mode` (by default, readable by its owner alone)."""
    path.parent.mkdir(exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            kept = stat.S_IMODE(path.stat().st_mode) if path.exists() else mode
            os.fchmod(handle.fileno(), kept)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: object) -> None:
    write(path, json.dumps(data, indent=2) + "\n")
