"""Baking the template, and finding the tools the checks need: shared by every test module."""

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
DEFAULTS = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
IN_CI = bool(os.environ.get("CI"))

# Answers for the index_auth choices that mint their token in CI: the repository's URL names the
# account, region or project (a leading zero in the account: YAML must keep it a string).
AWS = {
    "index_auth": "aws-codeartifact",
    "private_index_url": (
        "https://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/pypi-store/simple/"
    ),
}
GOOGLE = {
    "index_auth": "google-artifact-registry",
    "private_index_url": "https://europe-west4-python.pkg.dev/acme-artifacts/python/simple/",
}

# The template's choices as cookiecutter.json lists them (the first is the default), and the
# answers a choice needs beside it: the bake matrices are made from these, never typed again.
CHOICES = {k: v for k, v in DEFAULTS.items() if isinstance(v, list) and not k.startswith("_")}
NEEDS = {AWS["index_auth"]: AWS, GOOGLE["index_auth"]: GOOGLE}


def choice(key: str, value: str) -> dict[str, str]:
    """The answers that choose ``value`` for ``key``."""
    return {key: value, **NEEDS.get(value, {})}


def choice_variants(*keys: str) -> dict[str, dict[str, str]]:
    """One bake for each value other than the default of each choice (of ``keys``, or all),
    named KEY=VALUE."""
    return {
        f"{key}={value or 'none'}": choice(key, value)
        for key in keys or CHOICES
        for value in CHOICES[key][1:]
    }


def bake(output_dir: Path, **answers: str) -> Path:
    """Bake the template with its defaults overridden by ``answers``; return the project folder."""
    project = cookiecutter(
        str(TEMPLATE),
        no_input=True,
        extra_context=answers,
        output_dir=str(output_dir),
        overwrite_if_exists=True,
    )
    return Path(project)


def need(condition: bool, why: str) -> None:
    """Skip when a prerequisite is missing, except in CI, where a missing prerequisite fails."""
    if not condition:
        (pytest.fail if IN_CI else pytest.skip)(f"{why} (CI provisions it: .ci/provision)")


def tool(name: str) -> str:
    """The path of a command-line tool, from PATH or from this interpreter's virtualenv."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    need(found is not None, f"{name} is not installed")
    return found
