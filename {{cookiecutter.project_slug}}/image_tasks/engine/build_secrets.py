"""The netrc a build mounts, and what an interrupted podman build leaves of it.

The engine gets a netrc holding the index host's entry alone, through its secret-from-
environment (`--secret id=ID,env=VARIABLE`, which buildx, docker 20.10 with BuildKit and podman
all read): no other host's password reaches the build, and no file is written for it.

buildah (podman build) copies a mounted secret into its working container's storage
(`GRAPHROOT/DRIVER-containers/ID/userdata/secrets/`), and a build stopped by Ctrl-C or SIGTERM
leaves its working containers behind in state "Storage" (only `podman ps -a --external` lists
them), with the password on disk while a RUN step had it mounted. Each podman build names its
run in a build argument the Dockerfile never reads (IMAGE_TASKS_RUN: host, process, run id;
podman warns that it was not consumed), which buildah records in each container's buildah.json:
the run removes its own when its build ends in any way but success, and each build first removes
those of runs whose process is gone (a crash, SIGKILL) and says so.
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
        return {VARIABLE: self.entry}

    def build_args(self, engine: Engine) -> dict[str, str]:
        """The run's name, where buildah records it (podman alone keeps build containers)."""
        return {RUN_ARG: self.run} if engine.program == "podman" else {}

    def __repr__(self) -> str:  # never shown, even by a debugger or a traceback
        return f"BuildSecret(host={self.host!r}, run={self.run!r}, password=***)"


def leftovers(engine: Engine) -> dict[str, str]:
    """podman's build containers of these tasks' builds: container id -> the run's name
    ("HOST:PID RUN-ID"). Other engines keep no build containers."""
    if engine.program != "podman":
        return {}
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


def remove(engine: Engine, containers: list[str]) -> list[str]:
    """Remove the containers and their storage; return those still there."""
    if containers:
        engine.query("rm", "--force", *containers)
    return [container for container in containers if container in leftovers(engine)]


def sweep(engine: Engine) -> str | None:
    """Remove what builds whose process is gone left; say so (None when there was none)."""
    stale = [c for c, run in leftovers(engine).items() if owner_is_gone(run.partition(" ")[0])]
    if not stale:
        return None
    left = remove(engine, stale)
    if left:
        raise TaskError(_not_removed(engine, left))
    return (
        f"Removed {len(stale)} build container(s) that an interrupted build left in podman's "
        "storage, where a RUN step's mounted index credential is copied (`podman ps -a "
        "--external` listed them)."
    )


def remove_own(engine: Engine, secret: BuildSecret) -> str | None:
    """After a build that did not succeed: remove this run's build containers, which may
    hold the index credential; say what happened (None when there were none)."""
    mine = [c for c, run in leftovers(engine).items() if run == secret.run]
    if not mine:
        return None
    left = remove(engine, mine)
    if left:
        return f"error: {_not_removed(engine, left)}"
    return (
        f"Removed the build's {len(mine)} container(s) {engine.program} left in its storage, "
        "where a RUN step's mounted index credential is copied."
    )


def _not_removed(engine: Engine, containers: list[str]) -> str:
    ids = " ".join(container[:12] for container in containers)
    return (
        f"{engine.program} did not remove the build container(s) {ids}, which may hold the "
        f"index credential in its storage. Remove them with `{engine.program} rm --force {ids}` "
        f"(`{engine.program} ps -a --external` lists them)."
    )
