"""Tests import baked code straight from the template folder (the audit's unit tests, the hooks)
and run it in subprocesses: none of that may leave __pycache__ there, or cookiecutter would copy
it into every bake."""

import os
import sys

sys.dont_write_bytecode = True
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # and for every subprocess the tests start
