"""The lock task: requirements.in resolved against the private index into requirements.txt, every
package pinned with the sha256 of each file the index serves for it, on top of the base image.

First the index is asked for every name requirements.in declares, with the credential (an index
that sends a name to another origin is refused: dependency confusion); then the base image lists
its Python, platform and packages (base-packages.txt, which requirements.in takes as
constraints); uv resolves, in a private folder; and every name the lock pins is asked of the
index the same way before requirements.txt and base-packages.txt are written.
"""

import sys

from image_tasks import settings
from image_tasks.credentials import netrc_file
from image_tasks.engine.detect import detect
from image_tasks.lock import base as base_image
from image_tasks.lock import lockfile, resolve
from image_tasks.state import store
from image_tasks.tasks.check import index_serves


def lock(*, netrc: str | None = None, engine: str | None = None, upgrade: bool = False) -> int:
    """Resolve requirements.in against the private index into requirements.txt: every package
    pinned, with the sha256 of each of its files, on top of the base image's packages.

    Commit requirements.in, requirements.txt and base-packages.txt; the build refuses a lock
    that no longer matches them or the Dockerfile's base image."""
    config = settings.load(None, engine)
    root = settings.PROJECT_ROOT
    declared = lockfile.declared(root)
    credential = netrc_file.resolve(netrc, config.index_url)
    login, password = netrc_file.login_for(credential, config.index_url)
    index_serves(config.index_url, declared, login, password, locking=True)
    base = base_image.read(detect(config.engine), config.base_image)
    text = resolve.compile_lock(root, config.index_url, base, login, password, upgrade=upgrade)
    pinned = lockfile.pins(text)
    index_serves(config.index_url, [p.name for p in pinned], login, password, locking=True)
    constraints = base.constraints()
    inputs = (root / lockfile.INPUT).read_bytes(), constraints.encode()
    store.write(root / lockfile.LOCK, lockfile.recorded(text, *inputs), mode=0o644)
    store.write(root / lockfile.BASE, constraints, mode=0o644)
    added = [pin for pin in pinned if pin.name not in base.packages]
    print(
        f"Locked {len(pinned)} packages for Python {base.python} on {base.platform}: "
        f"{len(added)} added on top of {config.base_image} "
        f"({', '.join(f'{pin.name}=={pin.version}' for pin in added) or 'none'}). "
        "Commit requirements.in, requirements.txt and base-packages.txt.",
        file=sys.stderr,
    )
    return 0
