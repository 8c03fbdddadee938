"""The netrc a build mounts, and what an interrupted podman build leaves of it.

The engine gets a netrc holding the index host's entry alone, through its secret-from-
environment (`--secret id=ID,env=VARIABLE`, which buildx, docker 20.10 with BuildKit and podman
all read): no other host's password reaches the build, and this task writes no file for it.
Its first line, a comment pip, uv and the standard library's netrc parser skip, names the run:
host, process and a run id.

BuildKit keeps the secret in memory. buildah (podman build) stages a secret from the
environment in a file of its own, /dev/shm/buildahNNN, for each RUN step that mounts it, and
keeps its working containers in its storage (state "Storage": only `podman ps -a --external`
lists them). A build stopped by Ctrl-C or SIGTERM leaves both behind, the password in the
staged file. Each podman build names its run in a build argument the Dockerfile never reads
(IMAGE_TASKS_RUN; podman warns that it was not consumed), which buildah records in each
container's buildah.json. A run removes its own containers and staged copies when its build
ends in any way but success; each podman build first removes those of runs whose process is
gone (a crash, SIGKILL), and says so.
"""

import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from image_tasks.engine.commands import Engine
from image_tasks.engine.containers import owner, owner_is_gone
from image_tasks.errors import TaskError

VARIABLE = "IMAGE_TASKS_NETRC"  # the engine process's environment alone holds the netrc
RUN_ARG = "IMAGE_TASKS_RUN"
MARKER = "# image-tasks build "
STAGED = Path("/dev/shm")  # noqa: S108 - where buildah stages a secret from the environment


@dataclass(frozen=True, repr=False)
class BuildSecret:
    """The netrc one build run mounts, the index host's entry alone, and the run's name."""

    host: str
    login: str
    password: str
    run: str = field(default_factory=lambda: f"{owner()} {secrets.token_hex(4)}")

    def __post_init__(self) -> None:
        if re.search(r'[\s"]', self.login + self.password):
            raise TaskError(
                f"The netrc entry for {self.host} holds a login or password with spaces or "
                "quotes, which a netrc line does not carry to pip and uv intact. Give the index "
                "a token without them."
            )

    @property
    def entry(self) -> str:
        """The netrc entry (a login without a password may be the token: Gemfury)."""
        password = f"password {self.password}\n" if self.password else ""
        return f"machine {self.host}\nlogin {self.login}\n{password}"

    def source(self) -> str:
        """The source half of the engine's --secret value: the variable's name, never its text."""
        return f"env={VARIABLE}"

    def env(self) -> dict[str, str]:
        """What the build mounts: the entry, after the line that names this run."""
        return {VARIABLE: f"{MARKER}{self.run}\n{self.entry}"}

    def build_args(self, engine: Engine) -> dict[str, str]:
        """The run's name, where buildah records it (podman alone keeps build containers)."""
        return {RUN_ARG: self.run} if engine.program == "podman" else {}

    def __repr__(self) -> str:  # never shown, even by a debugger or a traceback
        return f"BuildSecret(host={self.host!r}, run={self.run!r}, password=***)"


@dataclass(frozen=True)
class Leftovers:
    """What builds of these tasks left in podman's care, by the run's name."""

    containers: dict[str, str]  # container id -> run
    staged: dict[Path, str]  # a staged copy of the netrc -> run

    def of(self, keep) -> "Leftovers":
        return Leftovers(
            {c: run for c, run in self.containers.items() if keep(run)},
            {path: run for path, run in self.staged.items() if keep(run)},
        )

    def __bool__(self) -> bool:
        return bool(self.containers or self.staged)

    def __str__(self) -> str:
        return f"{len(self.containers)} build container(s) and {len(self.staged)} staged netrc(s)"


def leftovers(engine: Engine) -> Leftovers:
    """podman's build containers and staged netrcs of these tasks' builds (other engines keep
    neither)."""
    if engine.program != "podman":
        return Leftovers({}, {})
    return Leftovers(_containers(engine), _staged(engine))


def _containers(engine: Engine) -> dict[str, str]:
    store = engine.query("info", "--format", "{{.Store.GraphRoot}} {{.Store.GraphDriverName}}")
    listed = engine.query("ps", "--all", "--external", "--no-trunc", "--format", "{{.ID}}")
    if not store or not listed:
        return {}
    root, _, driver = store.partition(" ")
    found = {}
    for container in listed.split():
        record = Path(root) / f"{driver}-containers" / container / "userdata" / "buildah.json"
        try:
            run = (json.loads(record.read_bytes()).get("Args") or {}).get(RUN_ARG)
        except (OSError, ValueError, AttributeError):
            continue  # not a buildah container, or gone meanwhile
        if isinstance(run, str):
            found[container] = run
    return found


def _staged(engine: Engine) -> dict[Path, str]:
    """The staged files whose first line names a run of these tasks. Read through `podman
    unshare` where a rootless build staged it as another uid of the user's namespace."""
    found = {}
    for path in STAGED.glob("buildah*"):
        try:
            with path.open("rb") as handle:
                first = handle.readline(256).decode("utf-8", "replace")
        except PermissionError:
            first = engine.query("unshare", "head", "-n", "1", str(path)) or ""
        except OSError:
            continue  # gone meanwhile
        if first.startswith(MARKER):
            found[path] = first[len(MARKER) :].strip()
    return found


def remove(engine: Engine, found: Leftovers) -> Leftovers:
    """Remove them (containers with their storage); return what is still there."""
    if found.containers:
        engine.query("rm", "--force", *found.containers)
    for path in found.staged:
        try:
            path.unlink(missing_ok=True)
        except PermissionError:
            engine.query("unshare", "rm", "-f", str(path))
    still = leftovers(engine)
    return Leftovers(
        {c: run for c, run in still.containers.items() if c in found.containers},
        {path: run for path, run in still.staged.items() if path in found.staged},
    )


def sweep(engine: Engine) -> str | None:
    """Remove what builds whose process is gone left; say so (None when there was nothing)."""
    stale = leftovers(engine).of(lambda run: owner_is_gone(run.partition(" ")[0]))
    if not stale:
        return None
    left = remove(engine, stale)
    if left:
        raise TaskError(_not_removed(engine, left))
    return (
        f"Removed {stale} that an interrupted build left, with the index credential, in "
        "podman's storage and /dev/shm (`podman ps -a --external` lists such containers)."
    )


def remove_own(engine: Engine, secret: BuildSecret) -> str | None:
    """After a build that did not succeed: remove this run's build containers and staged
    netrcs; say what happened (None when there were none)."""
    mine = leftovers(engine).of(lambda run: run == secret.run)
    if not mine:
        return None
    left = remove(engine, mine)
    if left:
        return f"error: {_not_removed(engine, left)}"
    return f"Removed the build's {mine} that {engine.program} left behind."


def _not_removed(engine: Engine, left: Leftovers) -> str:
    commands = []
    if left.containers:
        ids = " ".join(container[:12] for container in left.containers)
        commands.append(f"`{engine.program} rm --force {ids}`")
    if left.staged:
        commands.append(f"`rm -f {' '.join(str(path) for path in left.staged)}`")
    return (
        f"{engine.program} left {left} that this task could not remove, holding the index "
        f"credential: remove them with {' and '.join(commands)}."
    )
