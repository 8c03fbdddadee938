"""The image config, manifests, indexes and attestations: JSON documents, parsed strictly
(`parse`), and every string of them scanned (`scan_json`).

A key that appears twice in one object (or twice but for its case) is an error: Python keeps
the last value, Go's encoding/json (docker, containerd, podman) merges both objects into one
struct and matches keys regardless of case, so the audit could not say which reading an engine
makes.  Canaries and pattern rules apply to every string (and key); the ``secret-variable``
rule to the assignments a string makes: ENV entries (``NAME=value``), labels, build arguments
recorded in the history (``|1 TOKEN=...``) or in a provenance statement (``build-arg:NAME``).
(Every byte of each document is searched for the canaries as bytes too: `blobs`.)
"""

from __future__ import annotations

import json
import re

from ..detect import redaction
from ..detect.checks import real_match
from ..detect.matching import Matcher
from ..errors import AuditError
from ..findings import Finding
from ..image.tar import printable
from ..rules.catalog import SECRET_VARIABLE


class NotJson(ValueError):
    """The bytes are not a JSON document."""


def parse(data: bytes, name: str):
    """The JSON document in ``data`` (the blob ``name``); `NotJson` when it is not one,
    `AuditError` when a key repeats."""

    def unique(pairs):
        seen: dict[str, str] = {}
        for key, _ in pairs:
            folded = key.casefold()
            if folded in seen:
                same = seen[folded] == key
                raise AuditError(
                    f"the JSON document {name} holds the key {printable(key[:60])!r} twice"
                    + ("" if same else f" (also as {printable(seen[folded][:60])!r})")
                    + " in one object: readers disagree on which value counts (Python keeps the "
                    "last, Go's encoding/json merges them, whatever their case), so the audit "
                    "cannot say what an engine reads. Save the image again with a sound tool."
                )
            seen[folded] = key
        return dict(pairs)

    try:
        return json.loads(data, object_pairs_hook=unique)
    except (ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
        raise NotJson(name) from None


KV = re.compile(r"(?:^|[\s|'\"])([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s]*)")


def scan_json(
    m: Matcher, doc, pseudo: str, location: str, blob: str | None, seen: set | None = None
) -> list[Finding]:
    """Apply canaries, patterns and secret-variable checks to every string of a JSON doc;
    ``seen`` gets the indexes of the canaries found."""
    findings: list[Finding] = []
    for path, key, value in _walk(doc, pseudo):
        data = value.encode("utf-8", "surrogateescape")
        shown = printable(path)
        for index, name in m.canaries_in_text(data):
            if seen is not None:
                seen.add(index)
            findings.append(
                Finding(
                    "canary",
                    shown,
                    f"{m.label(index)} found in {location} ({name})",
                    excerpt=_canary_excerpt(m, value),
                    location=location,
                    blob=blob,
                )
            )
        findings += m.pattern_findings(data, shown, location, location, blob)
        for name, secret in _assignments(key, value):
            if _secret_variable(name, secret):
                m.scrub.add(secret)
                findings.append(
                    Finding(
                        "secret-variable",
                        shown,
                        f"variable {name} holds a literal secret in {location}",
                        excerpt=m.scrub(f"{name}={redaction.MASK}"),
                        location=location,
                        blob=blob,
                        variable=name,
                    )
                )
    return findings


def _canary_excerpt(m: Matcher, value: str) -> str:
    text = value
    for variant, _, _ in m.canaries.variants:
        v = variant.decode("utf-8", "surrogateescape")
        if len(v) >= 6 and v in text:
            text = text.replace(v, "[CANARY]")
    data = text.encode("utf-8", "surrogateescape")
    i = data.find(b"[CANARY]")
    if i < 0:
        return "[CANARY]"
    return redaction.excerpt(data, 0, len(data), i, i + 8, marker="[CANARY]", whole_token=True)


def _walk(doc, path: str, key: str = ""):
    """Yield (json path, key, string) for every string (and key) of a JSON document."""
    stack = [(doc, path, key)]
    while stack:
        node, where, key = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                k = str(k)
                yield f"{where}/{k}", "", k
                stack.append((v, f"{where}/{k}", k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                stack.append((v, f"{where}/{i}", key))
        elif isinstance(node, str):
            yield where, key, node


def _assignments(key: str, value: str):
    """(name, value) pairs a string assigns: KEY=VALUE texts, build args, JSON keys."""
    if key:
        name = key.rpartition(":")[2] if key.startswith(("build-arg:", "label:")) else key
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", name):
            yield name, value
    if "=" in value:
        whole = re.match(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z", value, re.S)
        if whole:  # an Env entry: everything after the first '=' is the value
            yield whole.group(1), whole.group(2)
        for m in KV.finditer(value):
            secret = m.group(2)
            if len(secret) >= 2 and secret[0] == secret[-1] and secret[0] in "\"'":
                secret = secret[1:-1]
            yield m.group(1), secret


def _secret_variable(name: str, value: str) -> bool:
    """Does the assignment ``name=value`` hold a literal secret (`SECRET_VARIABLE`)?"""
    text = f"{name}={value}".encode("utf-8", "surrogateescape")
    m = SECRET_VARIABLE.regex.fullmatch(text)
    return m is not None and real_match(SECRET_VARIABLE, m)
