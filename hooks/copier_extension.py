"""copier's side of baking this cookiecutter template from the same tree (copier.yml loads it).

It gives copier what cookiecutter gives the files: the `cookiecutter` names they are written
against (the answers, plus cookiecutter.json's private values such as _secret_id); verbatim copies
of the paths in cookiecutter.json's _copy_without_render; the bake's checks, as question validators
(`validator: "{{ refusal('project_slug') }}"`); and requirements.in, which cookiecutter's post-gen
hook writes, as a filter (`{{ cookiecutter.private_packages | requirements_file }}`).
"""

import fnmatch
import importlib.util
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from copier_template_extensions import ContextHook
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

ROOT = Path(__file__).resolve().parents[1]
COOKIECUTTER = json.loads((ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
QUESTIONS = [key for key in COOKIECUTTER if not key.startswith("_")]
PRIVATE = {key: value for key, value in COOKIECUTTER.items() if key.startswith("_")}
PROJECT_FOLDER = "{{cookiecutter.project_slug}}/"


def _answers_module():
    """hooks/answers.py under a name of its own: this module is loaded from a file path, and
    copier update loads two versions of the template in one process."""
    spec = importlib.util.spec_from_file_location(f"{__name__}_answers", ROOT / "hooks/answers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


answers = _answers_module()


def answered(context: Mapping[str, Any]) -> dict[str, Any]:
    return {key: context[key] for key in QUESTIONS if key in context}


@pass_context
def refusal(context: Context, name: str) -> str:
    """The validator of question `name`: the check's message, or nothing when it passes.

    An answer given with --data or --defaults is not asked again, and copier reports a failed
    validator there as a traceback: the run stops with the message alone instead (SystemExit
    passes through copier's error handling, and nothing has been written yet)."""
    message = answers.problem(name, answered(context))
    settings = context["_copier_conf"]
    if message and (settings["defaults"] or name in settings["data"]):
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(1)
    return message


class AsCookiecutter(ContextHook):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["refusal"] = refusal
        environment.filters["requirements_file"] = answers.validation.requirements_file

    def hook(self, context: dict[str, Any]) -> None:
        context["cookiecutter"] = {**PRIVATE, **answered(context)}

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        """A file cookiecutter copies without rendering reaches Jinja as one raw block."""
        if not name or not name.startswith(PROJECT_FOLDER):
            return source
        relative = name.removeprefix(PROJECT_FOLDER)
        if not any(fnmatch.fnmatch(relative, glob) for glob in PRIVATE["_copy_without_render"]):
            return source
        if "{% endraw %}" in source:
            raise ValueError(f"{name} contains '{{% endraw %}}' and cannot be copied verbatim")
        return "{% raw %}" + source + "{% endraw %}"
