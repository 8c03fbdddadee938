"""cookiecutter's side of the answers derived from earlier ones (cookiecutter.json's
`_extensions`): hooks/answers.py's filters, as in `{{ cookiecutter.base_image | implied(...) }}`.

cookiecutter imports this module by name, and cruft keeps it imported while it bakes two versions
of the template from one clone (`cruft update`), so it loads hooks/answers.py afresh, by path, for
every Jinja environment: the filters are always those of the version being baked.
"""

import importlib.util
from pathlib import Path

from jinja2 import Environment
from jinja2.ext import Extension

ANSWERS = Path(__file__).resolve().with_name("answers.py")


class Derived(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        spec = importlib.util.spec_from_file_location("cookiecutter_extension_answers", ANSWERS)
        answers = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(answers)
        environment.filters.update(answers.FILTERS)
