"""The check task: what a build needs, checked without building, as the build checks it first.

The lock must match requirements.in and the Dockerfile's base image, and the index must serve
every locked package to this credential itself (no redirect to another origin). CI runs it
before its build on every run, so a revoked NET_RC, a stale lock or a redirecting index fails
there even when every layer of the build would come from the cache.
"""

import re
import sys
from urllib.parse import urlsplit

from image_tasks import settings
from image_tasks.credentials import netrc_file
from image_tasks.errors import TaskError
from image_tasks.index import cloud, probe
from image_tasks.lock import lockfile


def check(*, netrc: str | None = None) -> int:
    """Check what the build needs, without building: the lock matches requirements.in and the
    base image, and the index serves every locked package to this credential, itself."""
    config = settings.load()
    pinned = lockfile.check(settings.PROJECT_ROOT, config.base_image)
    credential = netrc_file.resolve(netrc, config.index_url)
    login, password = netrc_file.login_for(credential, config.index_url)
    index_serves(config.index_url, [pin.name for pin in pinned], login, password)
    return 0


def index_serves(
    index_url: str, projects: list[str], login: str, password: str, *, locking: bool = False
) -> None:
    """The index serves every project to this credential, itself; or a TaskError naming why
    not (and what it stopped: the lock, or the build)."""
    found = probe.problem(index_url, projects, login, password)
    if found:
        stopped = "the lock: " if locking else "this build: "
        outcome = "Nothing was written." if locking else (
            "Nothing was built. (If the engine reaches the index differently from this "
            "machine, --no-index-check skips this check; the install step checks again inside "
            "the build when it runs.)"
        )  # fmt: skip
        raise TaskError(
            f"The index cannot serve {stopped}{found}. {outcome}" + expiry_hint(found, index_url)
        )
    host = urlsplit(index_url).hostname
    print(f"Index check: {host} serves {', '.join(projects)} to this credential.", file=sys.stderr)


def expiry_hint(found: str, index_url: str) -> str:
    """A refused credential for an index of short-lived tokens (CodeArtifact, Artifact
    Registry) has most likely expired: say how to make a new one."""
    refused = re.search(r"HTTP 40[13]\b", found)
    return cloud.token_expiry_hint(index_url) if refused else ""
