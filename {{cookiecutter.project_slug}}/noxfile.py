"""Front door 1: nox sessions, one a task of image_tasks.tasks.TASKS; the logic lives there.

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
from pathlib import Path

import nox

# nox loads this file by its path, which puts no folder on sys.path: the tasks' package is here.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from image_tasks.tasks import TASKS, Task

nox.options.sessions = ["build", "audit", "test"]
nox.options.stop_on_first_error = True  # never audit or test an older image after a failed build
nox.options.default_venv_backend = "venv"
# Without uv installed, nox logs "uv binary not found." before every virtualenv it makes; the
# venv backend needs no uv, so the line says nothing to our users.
nox.logger.logger.addFilter(lambda record: record.getMessage() != "uv binary not found.")
nox.options.reuse_venv = "yes"

PYPROJECT = nox.project.load_toml("pyproject.toml")


def run_task(session: nox.Session, task: Task) -> None:
    """Install the task's dependency group, then run `python -m image_tasks TASK` with the
    session's arguments; the task prints its own message on failure."""
    if task.group:
        session.install(*nox.project.dependency_groups(PYPROJECT, task.group))
    python = "python" if task.group else sys.executable  # no packages needed: nox's own Python
    # On Ctrl-C a task removes what it started (containers, an index): nox's default 0.3 s before
    # it escalates to SIGTERM and SIGKILL is too short for that.
    session.run(
        python, "-m", "image_tasks", task.name, *session.posargs, external=True,
        interrupt_timeout=60,
    )  # fmt: skip


for _task in TASKS.values():

    def _session(session: nox.Session, task: Task = _task) -> None:
        run_task(session, task)

    _session.__doc__ = _task.summary
    nox.session(name=_task.name, venv_backend=None if _task.group else "none")(_session)
