"""The allow-list: accepted false positives, each with a reason.

Format: a text file, one entry per line, three whitespace-separated fields, the last one
running to the end of the line::

    # RULE-ID     PATH-GLOB                                          REASON
    url-credentials /opt/vendor/docs/*.html                           vendor docs, example URLs
    *             /usr/lib/python3/dist-packages/foo/tests/keys/*     upstream test fixtures

* RULE-ID is a rule id from the report, or ``*`` for any rule except ``canary``, or
  ``incomplete`` for a path the audit could not read to its end (an incomplete verdict's
  named paths; only this id accepts them, never ``*``);
* PATH-GLOB is matched with ``fnmatch`` (case-sensitive; ``*`` also matches ``/``) against
  the finding's path as reported (``/etc/pip.conf``, or a pseudo-path such as
  ``<config>/config/Env/2``);
* REASON is required: an entry without one is refused, and so is an entry for ``canary``
  (a known secret in an image is never acceptable).

Blank lines and lines starting with ``#`` are ignored.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from ..errors import AuditError, read_text
from .catalog import RULES_BY_ID

INCOMPLETE = "incomplete"  # the id that accepts an unread path (a `findings.Gap`)


@dataclass(frozen=True)
class Entry:
    rule: str
    glob: str
    reason: str
    line: int

    def matches(self, rule: str, path: str) -> bool:
        return (
            (self.rule == rule or (self.rule == "*" and rule != INCOMPLETE))
            and rule != "canary"
            and (fnmatch.fnmatchcase(path, self.glob))
        )


def parse(text: str, origin: str = "allow-list") -> list[Entry]:
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 2)
        if len(parts) < 3 or not parts[2].strip():
            raise AuditError(
                f"{origin} line {number}: an entry needs a rule id, a path glob and a reason "
                "(RULE-ID PATH-GLOB REASON...); entries without a reason are refused."
            )
        rule, glob, reason = parts
        if rule == "canary":
            raise AuditError(
                f"{origin} line {number}: findings of the 'canary' rule cannot be allowed; a "
                "known secret in the image is always a leak."
            )
        if rule not in ("*", INCOMPLETE) and rule not in RULES_BY_ID:
            raise AuditError(
                f"{origin} line {number}: unknown rule id {rule!r}; use an id from the report "
                "or '*'."
            )
        entries.append(Entry(rule, glob, reason.strip(), number))
    return entries


def load(path: str) -> list[Entry]:
    return parse(read_text(path, "allow-list", "--allow-list"), f"allow-list {path}")


def split(findings, entries, rule=None):
    """(kept, [(allowed, reason)]) of findings, or of gaps with ``rule=INCOMPLETE``."""
    kept, allowed = [], []
    for item in findings:
        which = rule or item.rule
        entry = next((e for e in entries if e.matches(which, item.path)), None)
        if entry is None:
            kept.append(item)
        else:
            allowed.append((item, entry.reason))
    return kept, allowed
