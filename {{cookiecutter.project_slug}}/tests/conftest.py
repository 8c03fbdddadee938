"""Run commands in the built image through the configured engine (IMAGE, IMAGE_ENGINE)."""

import pytest

from image_tasks import settings
from image_tasks.engine.detect import detect


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
