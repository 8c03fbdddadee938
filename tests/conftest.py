"""Tests import baked code straight from the template folder (the audit's unit tests, the hooks):
that must not leave __pycache__ there, or cookiecutter would copy it into every bake."""

import sys

sys.dont_write_bytecode = True
