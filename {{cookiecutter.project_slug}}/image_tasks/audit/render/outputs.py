"""Writing report files: whole or not at all, and never over something that is not a file.

A regular file, or a path where nothing is yet (its folder made if need be), is written to a
temporary file beside it and renamed into place, so a reader never sees half a report and a
failed write leaves the old one.
Anything else is written to directly: a character device (``/dev/null``, ``/dev/stdout``, a
terminal), a FIFO, a socket, or a symbolic link (written through, so the link stays a link).
Renaming over those would replace them with a regular file: for a root user, ``/dev/null``
itself, for every process on the machine.
"""

from __future__ import annotations

import contextlib
import os
import stat

from ..errors import AuditError


def write_report(path: str, text: str) -> None:
    """Write ``text`` to ``path`` (see the module docstring); AuditError when it cannot."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise _cannot(path, exc) from None
    if info is None or stat.S_ISREG(info.st_mode):
        _replace(path, text)
        return
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise _cannot(path, exc) from None


def _replace(path: str, text: str) -> None:
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")
    try:
        if directory:
            os.makedirs(directory, exist_ok=True)  # (a report in a folder of its own: made)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException as exc:  # (an interrupt too: no temporary file is left behind)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _cannot(path, exc) from None
        raise


def _cannot(path: str, exc: OSError) -> AuditError:
    reason = exc.strerror or type(exc).__name__
    return AuditError(f"cannot write the report to {path!r} ({reason}); check the path.")
