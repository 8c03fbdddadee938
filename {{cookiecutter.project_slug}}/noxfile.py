"""Front door 1: nox sessions. Each is a few lines; the logic lives in image_tasks.

nox                      build, audit, test (the default)
nox -s build -- --netrc ~/.netrc
nox -s lint
nox -s index -- --wheelhouse wheelhouse
"""

import sys

import nox

nox.options.sessions = ["build", "audit", "test"]
nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"

PYPROJECT = nox.project.load_toml("pyproject.toml")


def run_task(session: nox.Session, task: str, python: str = "python") -> None:
    """Run `python -m image_tasks TASK` with the session's arguments; its message on failure."""
    session.run(python, "-m", "image_tasks", task, *session.posargs, external=True)


@nox.session(venv_backend="none")
def build(session: nox.Session) -> None:
    """Build the image, the private index credential mounted as a BuildKit secret."""
    run_task(session, "build", python=sys.executable)


@nox.session
def audit(session: nox.Session) -> None:
    """Save the image and prove no credential survives in any layer, its config or history."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "audit"))
    run_task(session, "audit")


@nox.session
def test(session: nox.Session) -> None:
    """Run tests/ against the built image: imports, Ray remote tasks, no credential files."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "test"))
    run_task(session, "test")


@nox.session
def lint(session: nox.Session) -> None:
    """hadolint the Dockerfile, zizmor and actionlint the workflow, ruff the Python."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    run_task(session, "lint")


@nox.session
def index(session: nox.Session) -> None:
    """Serve a wheelhouse from a local password-protected index, with a throwaway netrc."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "index"))
    run_task(session, "index")
