"""Make the template's image_tasks package and the test builders importable."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "{{cookiecutter.project_slug}}"))
sys.path.insert(0, str(HERE))
