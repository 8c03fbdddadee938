"""README.md's quickstart is what works: a setup block, then the two commands (bake; test),
the test command being the one CI runs."""

import re

from baking import DEFAULTS, TEMPLATE


def commands(markdown: str) -> list[str]:
    return re.findall(r"```sh\n\s*(.+?)\n\s*```", markdown)


def quickstart() -> str:
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    return readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]


def test_quickstart_is_setup_then_bake_then_the_ci_test_command():
    setup, bake, test = commands(quickstart())
    assert "python3 -m venv" in setup and "-r requirements-dev.txt" in setup
    assert bake.strip() == "cookiecutter . --output-dir .."
    ci = (TEMPLATE / ".ci/run").read_text(encoding="utf-8")
    assert f"\n{test.strip()}\n" in ci


def test_every_option_is_documented():
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    for option in (key for key in DEFAULTS if not key.startswith("_")):
        assert f"`{option}`" in readme, option
