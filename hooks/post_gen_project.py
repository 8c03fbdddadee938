"""Idempotent tidy-up after baking; safe to re-run under `cruft update`.

No git init, no network, no container engine: it only writes requirements.txt from the answers,
splitting the comma-separated list with the same rule the pre-gen hook checked it with.
"""

import json
import os
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ in the baked repository
ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
sys.path.insert(0, os.getcwd())  # the baked repository: its image_tasks package

from image_tasks.validation import split_requirements  # noqa: E402

HEADER = "# Installed from the private index by the Dockerfile (the index proxies public PyPI).\n"


def main() -> None:
    lines = "".join(f"{r}\n" for r in split_requirements(ANSWERS["private_packages"]))
    Path("requirements.txt").write_text(HEADER + lines, encoding="utf-8")


if __name__ == "__main__":
    main()
