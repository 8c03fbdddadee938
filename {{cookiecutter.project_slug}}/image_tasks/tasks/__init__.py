"""The tasks, one module each, and the one table every front door is built from.

`python -m image_tasks` (argparse), noxfile.py (a session a task) and tasks.py (an invoke task a
task) read TASKS alone: each task's name and function (whose docstring's first paragraph is its
one-line help everywhere), its options, and the dependency group its nox session installs.
"""

import sys

if sys.version_info < (3, 11):  # noqa: UP036 - tomllib: a message, not an ImportError
    sys.exit(
        f"error: the tasks need Python 3.11 or newer (this is {sys.version.split()[0]}). "
        "Install nox or invoke with a newer python3, e.g. `python3.11 -m pip install nox`."
    )

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from image_tasks.engine.detect import NAMES as ENGINE_NAMES
from image_tasks.tasks import (
    audit,
    build,
    check,
    cluster,
    index,
    lint,
    lock,
    pin,
    publish,
    secret,
    template,
    test,
)


@dataclass(frozen=True)
class Option:
    """One option of a task, as every front door offers it."""

    flag: str  # "--netrc"; a positional argument's name has no dashes
    help: str
    # value: --flag VALUE; on/off: --flag alone sets the keyword True/False; repeat: --flag VALUE
    # again and again, a list; positional: VALUE
    kind: Literal["value", "on", "off", "repeat", "positional"] = "value"
    keyword: str = ""  # the task function's keyword, when it is not the flag's name
    type: type = str  # the default is the function's own
    choices: tuple[str, ...] = ()
    metavar: str | None = None

    @property
    def name(self) -> str:
        """The flag without dashes, as a Python name: invoke's parameter."""
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def dest(self) -> str:
        return self.keyword or self.name


@dataclass(frozen=True)
class Task:
    function: Callable[..., int]
    options: tuple[Option, ...] = ()
    group: str | None = None  # pyproject's dependency group; None: nox's own Python, no venv
    # Accepted and dropped: `nox -- --netrc PATH` hands the same arguments to build, audit, test
    # and publish.
    ignores: tuple[str, ...] = ()
    rest: str | None = None  # the keyword that gets the arguments the task does not know

    @property
    def name(self) -> str:
        return self.function.__name__

    @property
    def summary(self) -> str:
        """The first paragraph of the function's docstring, on one line."""
        return " ".join(inspect.getdoc(self.function).split("\n\n")[0].split())

    def default(self, option: Option) -> object:
        """The option's default: the function's own (None for a positional argument)."""
        found = inspect.signature(self.function).parameters[option.dest].default
        return None if found is inspect.Parameter.empty else found

    def help(self, option: Option) -> str:
        """The option's help, with its choices and any default worth saying."""
        default = self.default(option)
        choices = f" ({'|'.join(option.choices)})" if option.choices else ""
        said = f" (default: {default})" if default not in (None, False, ()) else ""
        return option.help + choices + said


IMAGE = Option("--image", "image reference (default: $IMAGE, else NAME:dev)")
ENGINE = Option(
    "--engine", "container engine (default: $IMAGE_ENGINE, else detected)", choices=ENGINE_NAMES
)
NETRC = Option("--netrc", "netrc path (default: $NETRC, $NET_RC, ~/.netrc)")

# In the order `nox --list` shows them.
TASKS = {
    task.name: task
    for task in (
        Task(
            lock.lock,
            (
                ENGINE,
                NETRC,
                Option("--upgrade", "move every pin to the newest version that fits", "on"),
            ),
            group="lock",
        ),
        Task(check.check, (NETRC,), ignores=("--image", "--engine")),
        Task(
            build.build,
            (
                IMAGE,
                ENGINE,
                NETRC,
                Option(
                    "--no-cache", "rebuild every step (after rotating the credential, say)", "on"
                ),
                Option(
                    "--no-index-check",
                    "skip asking the index from this machine first (the build still checks)",
                    "off",
                    keyword="index_check",
                ),
            ),
        ),
        Task(
            audit.audit,
            (
                IMAGE,
                ENGINE,
                NETRC,
                Option(
                    "--format",
                    "report format",
                    keyword="output_format",
                    choices=("text", "json", "sarif"),
                ),
                Option("--output", "write the report to this file"),
            ),
            group="audit",
        ),
        Task(test.test, (IMAGE, ENGINE), group="test", ignores=("--netrc",), rest="pytest_args"),
        Task(
            publish.publish,
            (
                IMAGE,
                ENGINE,
                Option(
                    "--tag",
                    "push the audited image as REF instead of IMAGE (repeatable)",
                    "repeat",
                    keyword="tags",
                    metavar="REF",
                ),
            ),
            ignores=("--netrc",),
        ),
        Task(
            pin.pin,
            (
                Option(
                    "image",
                    "the image as publish printed it",
                    "positional",
                    metavar="NAME@sha256:...",
                ),
            ),
        ),
        Task(
            cluster.cluster,
            (
                IMAGE,
                ENGINE,
                Option("--workers", "worker nodes", type=int),
                Option("--worker-image", "start the workers from this local image"),
                Option("--timeout", "seconds to join, and to run the job", type=float),
            ),
            ignores=("--netrc",),
        ),
        Task(secret.secret, (NETRC,)),
        Task(lint.lint, group="lint"),
        Task(template.template, group="template"),
        Task(
            index.index,
            (
                Option("--wheelhouse", "folder of wheels to serve"),
                Option("--port", "port on 127.0.0.1 (default: a free one)", type=int),
                Option("--netrc-out", "also link the throwaway netrc here"),
            ),
            group="index",
        ),
    )
}
