"""Credential files: which rules a path calls for, and whether the file holds a real secret.

A file is a credential file by its path (`rules`, category ``credential-file``).  Rules with a
``content`` pattern or a ``fields`` format then read the file's secret fields (a netrc's
passwords, and its logins where no password stands beside them; a URL's password; a docker
``auth``'s password once base64-decoded; ``_authToken=``...).  A file whose secret fields are
all unfilled (``${VAR}``, ``$VAR``, ``<password>``, ``****``, empty: `rules.is_unfilled`) holds
no credential: no finding, a note.  One real secret among placeholders is a finding.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from ..findings import Finding
from ..rules.files import FILE_RULES
from ..rules.model import FileRule
from ..rules.placeholders import is_unfilled
from . import netrc, redaction

COLLECT_LIMIT = 1 << 20  # the head of a credential file that is read for its fields


def _rule_index() -> tuple[dict[str, list[FileRule]], list[FileRule]]:
    by_name: dict[str, list[FileRule]] = {}
    under = []
    for rule in FILE_RULES:
        for name in rule.names:
            by_name.setdefault(name, []).append(rule)
        if rule.under and not rule.names:
            under.append(rule)
    return by_name, under


BY_NAME, UNDER = _rule_index()
UNDER_PREFIXES = tuple(p for r in UNDER for p in r.under)


def _parent_ok(rule: FileRule, parent: str) -> bool:
    if not rule.parents:
        return True
    components = parent.split("/")
    for want in rule.parents:
        if "/" in want:
            if parent == want or parent.endswith("/" + want):
                return True
        elif want in components:
            return True
    return False


def rules_for(path: str, size: int) -> list[FileRule]:
    """The credential-file rules a (normalised) path calls for."""
    rules = BY_NAME.get(path[path.rfind("/") + 1 :]) or []
    if rules:
        parent = path.rpartition("/")[0]
        rules = [r for r in rules if _parent_ok(r, parent)]
    if size > 0 and path.startswith(UNDER_PREFIXES):
        rules = rules + [r for r in UNDER if path.startswith(r.under)]
    return rules


@dataclass
class Field:
    """A secret field of a credential file: its value and where it is (for the excerpt)."""

    value: bytes
    start: int
    end: int


def secret_fields(rule: FileRule, data: bytes) -> list[Field] | None:
    """The secret fields of ``data`` for ``rule``; None when the rule reads no fields (the
    path alone is the finding) or the format yields none it can read (a netrc in no syntax
    known: a finding too, the file cannot be shown clean)."""
    if rule.fields == "netrc":
        return _netrc_fields(data)
    if not rule.fields:
        return None
    fields = []
    for m in rule.content.finditer(data):
        value, start, end = m.group("secret"), *m.span("secret")
        if rule.fields == "docker-auth" and m.group(0).startswith(b'"auth"'):
            value = _basic_password(value)
        fields.append(Field(value, start, end))
    return fields


def _netrc_fields(data: bytes) -> list[Field] | None:
    text = data.decode("utf-8", "surrogateescape")
    entries = netrc.parse(text)
    if not entries:
        body = [line for line in text.splitlines() if line.strip() and line.lstrip()[:1] != "#"]
        return None if body else []
    values = []
    for entry in entries:
        if entry.password is not None:
            values.append(entry.password)
        dummy = entry.password is None or (
            entry.password and entry.password in netrc.DUMMY_PASSWORDS
        )
        if entry.login and dummy:
            values.append(entry.login)  # a login that stands in for a token
    fields = []
    for value in values:
        raw = value.encode("utf-8", "surrogateescape")
        at = data.find(raw) if raw else -1
        fields.append(Field(raw, max(at, 0), max(at, 0) + (len(raw) if at >= 0 else 0)))
    return fields


def _basic_password(auth: bytes) -> bytes:
    """The password half of a base64 ``user:password`` (the whole value if it is not one)."""
    try:
        decoded = base64.b64decode(auth, validate=True)
    except (binascii.Error, ValueError):
        return auth
    _, sep, password = decoded.partition(b":")
    return password if sep else decoded


def check(rule: FileRule, data: bytes, shown: str, size: int, blob, scrub) -> tuple[list, list]:
    """(findings, notes) of one credential-file rule on the head of the file."""
    fields = secret_fields(rule, data)
    if fields is None:
        return [Finding(rule.id, shown, f"{rule.title} ({size} bytes)", blob=blob)], []
    real = [f for f in fields if not is_unfilled(f.value.decode("utf-8", "replace"))]
    if not real:
        if not fields:
            return [], []
        return [], [
            f"{shown}: {rule.title.split(' with ')[0]} whose secret fields are all "
            "placeholders ($VAR, <...>, ****, empty); not a credential, not a finding"
        ]
    first = real[0]
    for field in real:
        scrub.add(field.value)
    excerpt = redaction.excerpt(
        data, 0, len(data), first.start, first.end, [(first.start, first.end)]
    )
    return [Finding(rule.id, shown, rule.title, excerpt=excerpt, blob=blob, offset=first.start)], []
