"""Front door 1: nox sessions. Each is a few lines; the logic lives in image_tasks.

nox                      build, audit, test (the default; stops at the first failure)
nox -s build -- --netrc ~/.netrc
nox -s publish           push the audited image, verify the registry's copy (never by default)
nox -s pin -- NAME@sha256:...   pin deploy/ to an image CI published
nox -s lint
nox -s build cluster     a local Ray cluster from the image: a head, 2 workers, a smoke job
nox -s template          is this repository behind its template? (cruft or copier)
nox -s index -- --wheelhouse wheelhouse
"""

import sys

import nox

nox.options.sessions = ["build", "audit", "test"]
nox.options.stop_on_first_error = True  # never audit or test an older image after a failed build
nox.options.default_venv_backend = "venv"
# Without uv installed, nox logs "uv binary not found." before every virtualenv it makes; the
# venv backend needs no uv, so the line says nothing to our users.
nox.logger.logger.addFilter(lambda record: record.getMessage() != "uv binary not found.")
nox.options.reuse_venv = "yes"

PYPROJECT = nox.project.load_toml("pyproject.toml")


def run_task(session: nox.Session, task: str, group: str | None = None) -> None:
    """Install the task's dependency group, then run `python -m image_tasks TASK` with the
    session's arguments; the task prints its own message on failure."""
    if group:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))
    python = "python" if group else sys.executable  # no packages needed: nox's own Python
    # On Ctrl-C a task removes what it started (containers, an index): nox's default 0.3 s before
    # it escalates to SIGTERM and SIGKILL is too short for that.
    session.run(
        python, "-m", "image_tasks", task, *session.posargs, external=True, interrupt_timeout=60
    )


@nox.session(venv_backend="none")
def build(session: nox.Session) -> None:
    """Build the image, the private index credential mounted as a BuildKit secret."""
    run_task(session, "build")


@nox.session
def audit(session: nox.Session) -> None:
    """Save the image and prove no credential survives in any layer, its config or history."""
    run_task(session, "audit", group="audit")


@nox.session
def test(session: nox.Session) -> None:
    """Run tests/ against the built image: imports, Ray remote tasks, no credential files."""
    run_task(session, "test", group="test")


@nox.session(venv_backend="none")
def publish(session: nox.Session) -> None:
    """Push the image a clean audit read, check the registry serves exactly it, pin its digest."""
    run_task(session, "publish")


@nox.session(venv_backend="none")
def pin(session: nox.Session) -> None:
    """Pin deploy/ to a published image by digest (nox -s pin -- NAME@sha256:...)."""
    run_task(session, "pin")


@nox.session(venv_backend="none")
def cluster(session: nox.Session) -> None:
    """Start a head and workers from the image, one container each; run a smoke job on all."""
    run_task(session, "cluster")


@nox.session
def lint(session: nox.Session) -> None:
    """hadolint the Dockerfile, zizmor and actionlint the workflow, ruff the Python."""
    run_task(session, "lint", group="lint")


@nox.session
def template(session: nox.Session) -> None:
    """Check this repository against its template (cruft or copier); say how to update."""
    run_task(session, "template", group="template")


@nox.session
def index(session: nox.Session) -> None:
    """Serve a wheelhouse from a local password-protected index, with a throwaway netrc."""
    run_task(session, "index", group="index")
