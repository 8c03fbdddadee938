"""What the base image already has, asked of the image itself: its Python, its platform and every
installed distribution. The lock is resolved for that Python and platform with those packages
as constraints, so it pins what the install adds on top of the base and leaves the base's own
packages at the versions the base has.

The image runs once, without network, as its own user, its entrypoint replaced by python3 (the
interpreter the Dockerfile's install step uses). Nothing is pulled: the base image must be in
the engine's store.
"""

import json
from dataclasses import dataclass

from image_tasks.engine.commands import Engine
from image_tasks.errors import TaskError

# Runs inside the base image, on whatever Python it has (3.8 or newer: importlib.metadata).
SCRIPT = """
import json, platform, re
from importlib import metadata
packages = {}
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if name:
        packages[re.sub(r"[-_.]+", "-", name).lower()] = dist.version
print(json.dumps({"python": platform.python_version(), "machine": platform.machine(),
                  "libc": list(platform.libc_ver()), "packages": packages}))
"""
# The manylinux levels uv resolves for, lowest and highest (uv pip compile --python-platform).
MANYLINUX = (17, 40)
ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


@dataclass(frozen=True)
class Base:
    reference: str
    image_id: str
    python: str  # the full version, e.g. 3.11.2
    platform: str  # uv's --python-platform, e.g. x86_64-manylinux_2_36
    packages: dict[str, str]  # normalised name -> version

    def constraints(self) -> str:
        """base-packages.txt: the base's packages as pip constraints, with what they describe."""
        lines = [
            "# What the base image already has: requirements.in takes these as constraints, so",
            "# the lock keeps them as they are. Written by `nox -s lock`; do not edit.",
            f"# base image: {self.reference} (ID {self.image_id})",
            f"# Python {self.python} on {self.platform}",
            *(f"{name}=={version}" for name, version in sorted(self.packages.items())),
        ]
        return "\n".join(lines) + "\n"


def read(engine: Engine, reference: str) -> Base:
    """The base image's Python, platform and packages, or a TaskError that says what to do."""
    image_id = engine.image_id(reference)
    if image_id is None:
        pull = "podman pull" if engine.program == "podman" else "docker pull"
        raise TaskError(
            f"The base image {reference} (the Dockerfile's FROM) is not in {engine.name}'s local "
            f"store, and the lock is made for exactly what it holds. `{pull} {reference}` (or "
            "build once), then lock again."
        )
    argv = [
        engine.program, "run", "--rm", "--pull=never", "--network=none",
        "--entrypoint", "python3", "--interactive", image_id, "-",
    ]  # fmt: skip
    result = engine.run(argv, input=SCRIPT, capture_output=True, text=True)
    try:
        facts = json.loads(result.stdout) if result.returncode == 0 else None
    except ValueError:
        facts = None
    if not isinstance(facts, dict):
        raise TaskError(
            f"The base image {reference} could not list its Python packages (python3 in the "
            f"image exited with {result.returncode}: {result.stderr.strip()[-300:]}). The image "
            "must have python3 on its PATH, the interpreter the Dockerfile installs with."
        )
    return Base(
        reference=reference,
        image_id=image_id,
        python=facts["python"],
        platform=platform_of(facts["machine"], facts["libc"], reference),
        packages=dict(facts["packages"]),
    )


def platform_of(machine: str, libc: list[str], reference: str) -> str:
    """uv's name for the image's platform: its architecture and C library."""
    arch = ARCHES.get(machine)
    kind, version = ([*libc, "", ""])[:2]
    major, _, minor = version.partition(".")
    if arch and kind == "glibc" and major == "2" and minor.isdigit() and int(minor) >= MANYLINUX[0]:
        return f"{arch}-manylinux_2_{min(int(minor), MANYLINUX[1])}"
    if arch and not kind:  # no glibc: Alpine's musl
        return f"{arch}-unknown-linux-musl"
    raise TaskError(
        f"The base image {reference} runs {machine} with {kind or 'an unknown C library'} "
        f"{version}, which the lock cannot be resolved for (uv knows x86_64 and aarch64 Linux, "
        "glibc 2.17 or newer, or musl)."
    )
