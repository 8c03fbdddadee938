"""Make the template's image_tasks package importable for unit tests of the tasks' modules."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}"))
