"""The one exception the audit raises when it cannot give a verdict.

Its message is a single paragraph for people: what failed and what to do.  It must never
contain a secret, so messages are built from names, sizes and digests only, never from
file contents or credential text.
"""

from __future__ import annotations


class AuditError(Exception):
    """The source could not be audited (exit status 2)."""


def read_text(path: str, what: str, option: str, limit: int = 1 << 20) -> str:
    """The text of a file the user named with ``option`` (its first ``limit`` characters), or
    an AuditError that names the file and the option."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(limit)
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise AuditError(
            f"cannot read the {what} {path!r} ({reason}); check the path given to {option}."
        ) from None


class CorruptStream(AuditError):
    """A compressed stream is corrupt or truncated: no reader gets more out of it."""


class NoDecoder(AuditError):
    """This Python has no decoder for the stream's format."""


class Stopped(Exception):
    """A bound stopped the reading of something: not an error, an incomplete verdict.

    ``reason`` says which bound, for the report (no secret: sizes and limits only)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OutOfTime(Stopped):
    """The audit's deadline passed: whatever is left is not read."""
