"""Tests import baked code straight from the template folder (the audit's unit tests, the hooks)
and run it in subprocesses: none of that may leave __pycache__ there, or cookiecutter would copy
it into every bake.

A run that skipped tests needing a real engine (outside CI, on a machine not provisioned) does
not end in silence: it lists them loudly and fails (under CI they fail one by one instead)."""

import os
import signal
import sys

import pytest

sys.dont_write_bytecode = True
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # and for every subprocess the tests start

# The signal tests send what a terminal sends its foreground job (Ctrl-C, a hang-up). A run
# started in the background (`cmd &` without job control, nohup) ignores SIGINT and SIGHUP, and
# every process it starts inherits that; here they get the defaults a terminal's job has.
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGHUP, signal.SIG_DFL)

from template_repo import Template, environment  # noqa: E402


@pytest.fixture
def template(tmp_path):
    """A git repository of this checkout's template, tagged as its declared version."""
    return Template(tmp_path / "template", environment(tmp_path / "home"))


_SKIPPED_ENGINE_TESTS: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # baking.need() skips name .ci/provision; engine tests may skip by other means too. An
    # expected failure (xfail) reports as skipped too, but it ran.
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and (item.get_closest_marker("engine") or ".ci/provision" in str(report.longrepr))
    ):
        _SKIPPED_ENGINE_TESTS.append(item.nodeid)


def pytest_terminal_summary(terminalreporter):
    if _SKIPPED_ENGINE_TESTS:
        terminalreporter.section("ENGINE TESTS SKIPPED: THIS RUN PROVES NOTHING END TO END", "!")
        for nodeid in _SKIPPED_ENGINE_TESTS:
            terminalreporter.line(f"skipped: {nodeid}")
        terminalreporter.line(
            f"{len(_SKIPPED_ENGINE_TESTS)} test(s) that build real images were skipped: this "
            "machine is not provisioned. Run `sudo bash .ci/provision` (or `nox -s tests`, which "
            "runs it), then the tests again."
        )


def pytest_sessionfinish(session):
    if _SKIPPED_ENGINE_TESTS and session.exitstatus == 0:
        session.exitstatus = 1
