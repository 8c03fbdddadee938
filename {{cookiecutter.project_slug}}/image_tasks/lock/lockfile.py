"""The lock, requirements.txt, as `nox -s lock` writes it from requirements.in and the base
image's packages (base-packages.txt), and whether it still matches them.

The lock's header records the sha256 of both inputs, and base-packages.txt's header the base
image it lists. The build refuses a lock whose inputs changed since it was written, or that was
made for another base image than the Dockerfile's FROM: those checks read files only (CI runs
them before its build, where the base image is in no local store); the build adds the base
image's ID where the engine has it. Dependabot compiles the lock again keeping its header, and
so the record, and changes requirements.in only to widen a range, which then asks for
`nox -s lock`.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from image_tasks import validation
from image_tasks.errors import TaskError

INPUT = "requirements.in"
LOCK = "requirements.txt"
BASE = "base-packages.txt"
INPUTS = re.compile(
    r"^# inputs: requirements\.in (sha256:\w+), base-packages\.txt (sha256:\w+)$", re.M
)
BASE_IMAGE = re.compile(r"^# base image: (\S+) \(ID (sha256:\w+)\)$", re.M)
# A pinned requirement and its hashes: "name==1.0 \" then "    --hash=sha256:..." lines.
PIN = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)[^\n\\]*((?:\\\n\s*--hash=\S+\s*)*)",
    re.M,
)
REQUIREMENT = re.compile(r"^[A-Za-z0-9]", re.M)
REDO = "Run `nox -s lock`, then commit requirements.txt and base-packages.txt."


@dataclass(frozen=True)
class Pin:
    name: str  # normalised, as the index knows it
    version: str
    hashes: tuple[str, ...]


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def declared(root: Path) -> list[str]:
    """The projects requirements.in names."""
    path = root / INPUT
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TaskError(
            f"Cannot read {path} ({error.__class__.__name__}): it lists what the image installs "
            "from the private index, one requirement a line; `nox -s lock` resolves it."
        ) from None
    return validation.requirement_names(text, INPUT)


def pins(text: str) -> list[Pin]:
    """Every requirement of a lock; a TaskError for one not pinned with ==, with hashes."""
    found = [
        Pin(
            re.sub(r"[-_.]+", "-", match[1]).lower(),
            match[2],
            tuple(re.findall(r"--hash=(\S+)", match[3])),
        )
        for match in PIN.finditer(text)
    ]
    bare = [pin.name for pin in found if not pin.hashes]
    if len(REQUIREMENT.findall(text)) > len(found) or bare:
        named = f" ({', '.join(bare)})" if bare else ""
        raise TaskError(
            f"{LOCK} is not a lock: a requirement in it lacks an exact version (==) or a "
            f"--hash{named}, and the image installs with hashes required. It is written from "
            f"{INPUT}: declare the requirements there. {REDO}"
        )
    return found


def recorded(text: str, requirements_in: bytes, base_packages: bytes) -> str:
    """The lock as uv wrote it, its inputs' sha256 recorded after the header's first two lines
    (what wrote it): the header Dependabot keeps when it compiles the lock again."""
    lines = text.splitlines(keepends=True)
    if len(lines) < 2 or not all(line.startswith("#") for line in lines[:2]):
        raise TaskError(f"uv wrote {LOCK} without its header; nothing was written.")
    inputs = f"# inputs: {INPUT} {digest(requirements_in)}, {BASE} {digest(base_packages)}\n"
    return "".join([*lines[:2], inputs, *lines[2:]])


def stale(root: Path, base_image: str) -> str | None:
    """Why the lock no longer matches its inputs or the Dockerfile's base image; None when it
    does. Reads files only."""
    requirements_in, lock, base = root / INPUT, root / LOCK, root / BASE
    for path in (requirements_in, lock, base):
        if not path.is_file():
            return f"{path.name} is missing"
    text = lock.read_text(encoding="utf-8")
    inputs = INPUTS.search(text)
    if inputs is None:
        return f"{LOCK} was not written by `nox -s lock` (its header records no inputs)"
    if inputs[1] != digest(requirements_in.read_bytes()):
        return f"{INPUT} changed after {LOCK} was written"
    if inputs[2] != digest(base.read_bytes()):
        return f"{BASE} changed after {LOCK} was written"
    listed = listed_base(root)
    if listed is None:
        return f"{BASE} names no base image"
    if listed[0] != base_image:
        return f"the Dockerfile's base image is {base_image}, but the lock was made for {listed[0]}"
    pins(text)
    return None


def listed_base(root: Path) -> tuple[str, str] | None:
    """(reference, ID) of the base image base-packages.txt lists."""
    try:
        found = BASE_IMAGE.search((root / BASE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    return (found[1], found[2]) if found else None


def check(root: Path, base_image: str) -> list[Pin]:
    """The lock's pins, or a TaskError that says `nox -s lock` when it does not match its
    inputs or the base image."""
    why = stale(root, base_image)
    if why:
        raise TaskError(f"The lock is out of date: {why}. Nothing was built. {REDO}")
    return pins((root / LOCK).read_text(encoding="utf-8"))
