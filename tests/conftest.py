"""Tests import baked code straight from the template folder (the audit's unit tests, the hooks)
and run it in subprocesses: none of that may leave __pycache__ there, or cookiecutter would copy
it into every bake."""

import os
import sys

import pytest

sys.dont_write_bytecode = True
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # and for every subprocess the tests start

from template_repo import Template, environment  # noqa: E402


@pytest.fixture
def template(tmp_path):
    """A git repository of this checkout's template, tagged as its declared version."""
    return Template(tmp_path / "template", environment(tmp_path / "home"))
