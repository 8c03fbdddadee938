"""Run commands in the built image through the configured engine (IMAGE, IMAGE_ENGINE); end the
run with one paragraph for what the image lacks (tests/missing.py)."""

import pytest
from missing import Missing

from image_tasks import settings
from image_tasks.engine.detect import detect

LACKING = pytest.StashKey[dict[str, str]]()


@pytest.fixture(scope="session")
def image() -> str:
    return settings.load().image


@pytest.fixture(scope="session")
def run(image):
    """run(*argv, user=None) -> stdout of argv in a throwaway container of the image (as user, a
    uid[:gid], if given); fails on non-zero."""
    engine = detect(settings.load().engine)

    def _run(*argv: str, user: str | None = None) -> str:
        argv_ = engine.run_argv(image, argv, user=user)
        result = engine.run(argv_, capture_output=True, text=True)
        assert result.returncode == 0, f"{argv[0]} failed in {image}:\n{result.stderr[-4000:]}"
        return result.stdout

    return _run


@pytest.fixture(scope="session")
def private_packages() -> list[str]:
    """Distribution names from requirements.in: what the image installs for its own sake (the
    lock, requirements.txt, also pins what those need)."""
    from image_tasks.validation import requirement_names

    return requirement_names((settings.PROJECT_ROOT / "requirements.in").read_text("utf-8"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that found the image lacking reports it in a line; the fix comes once, at the end."""
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, Missing):
        missing = call.excinfo.value
        item.config.stash.setdefault(LACKING, {})[missing.what] = missing.fix
        report.longrepr = str(missing)
    return report


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, config):
    """After pytest's own short summary: the outermost wrapper's end runs last."""
    yield
    for what, fix in config.stash.get(LACKING, {}).items():
        terminalreporter.write_line(f"\nThe image lacks {what}: {fix}")
