"""The one exception the audit raises when it cannot give a verdict.

Its message is a single paragraph for people: what failed and what to do.  It must never
contain a secret, so messages are built from names, sizes and digests only, never from
file contents or credential text.
"""

from __future__ import annotations


class AuditError(Exception):
    """The source could not be audited (exit status 2)."""
