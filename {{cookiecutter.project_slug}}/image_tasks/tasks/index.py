"""The index task: a local password-protected index (`index.local`) serving a wheelhouse."""

import shutil
from pathlib import Path

from image_tasks.errors import TaskError
from image_tasks.index import local


def index(
    *, wheelhouse: str = "wheelhouse", port: int | None = None, netrc_out: str | None = None
) -> int:
    """Serve a wheelhouse from a local password-protected index, with a throwaway netrc.

    On 127.0.0.1 until interrupted; it prints how to build against it."""
    folder = Path(wheelhouse).resolve()
    if not folder.is_dir():
        raise TaskError(
            f"The wheelhouse {folder} is not a folder. Put the wheels the image needs there "
            "(`pip wheel --no-deps --wheel-dir wheelhouse PATH/TO/YOUR/PACKAGE`)."
        )
    server = shutil.which("pypi-server")
    if server is None:
        raise TaskError("pypiserver is not installed: run `nox -s index`, which installs it.")
    port = local.free_port(port)
    return local.serve(folder, server, port, Path(netrc_out) if netrc_out else None)
