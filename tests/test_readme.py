"""README.md's two commands are the ones that work: CI runs the same test command."""

import re

from baking import DEFAULTS, TEMPLATE


def commands(markdown: str) -> list[str]:
    return re.findall(r"```sh\n\s*(.+?)\n\s*```", markdown)


def test_quickstart_is_bake_then_the_ci_test_command():
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    bake, test = commands(quickstart)
    assert bake.strip() == "cookiecutter ."
    ci = (TEMPLATE / ".ci/run").read_text(encoding="utf-8")
    assert f"\n{test.strip()}\n" in ci


def test_every_option_is_documented():
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    for option in (key for key in DEFAULTS if not key.startswith("_")):
        assert f"`{option}`" in readme, option
