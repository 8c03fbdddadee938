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
from ..detect.stream_search import Needles, StreamSearch, plane_findings
from ..errors import AuditError
from ..findings import Finding
from ..image.tar import printable
from ..rules.catalog import SECRET_VARIABLE


class Unescaped:
    """A JSON document too large to parse, fed piece by piece: its escapes undone (``\\n``,
    ``\\u0041``, surrogate pairs), as a parser reads its strings, and searched for the
    canaries (the document's bytes as stored: its scan's own plane).  Nothing is held but an
    escape cut by a piece's end."""

    def __init__(self, needles: Needles) -> None:
        self.needles = needles
        self.plane = StreamSearch(needles)
        self.carry = b""
        self.escaped = False  # (none in the document: its bytes as stored say it all)

    def feed(self, data: bytes, last: bool = False) -> None:
        data = self.carry + data
        cut = len(data) if last else _safe_cut(data)
        self.carry = data[cut:]
        piece = data[:cut]
        self.escaped = self.escaped or b"\\" in piece
        decoded = _ESCAPE.sub(_unescape, piece) if self.escaped else piece
        self.plane.feed(decoded, 0, len(decoded))

    def findings(self, path: str, blob, seen: set[int]) -> list[Finding]:
        """The canaries its strings show that its bytes did not (``seen``)."""
        self.feed(b"", last=True)
        if not self.escaped:
            return []
        where = "the document's strings as decoded"
        return plane_findings(
            self.needles, self.plane, path, 0, self.plane.offset, where, "document", blob,
            set(seen),
        )  # fmt: skip


_ESCAPE = re.compile(
    rb"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"  # a surrogate pair
    rb"|\\u([0-9a-fA-F]{4})|\\([\"\\/bfnrt])"
)
_SIMPLE = {b'"': b'"', b"\\": b"\\", b"/": b"/", b"b": b"\b", b"f": b"\f", b"n": b"\n",
           b"r": b"\r", b"t": b"\t"}  # fmt: skip


def _unescape(m: re.Match) -> bytes:
    high, low, one, simple = m.groups()
    if simple is not None:
        return _SIMPLE[simple]
    if high is not None:
        point = 0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00)
    else:
        point = int(one, 16)
    return chr(point).encode("utf-8", "surrogatepass")


def _safe_cut(data: bytes) -> int:
    """Where ``data`` can be cut without cutting an escape (a surrogate pair: 12 bytes)."""
    cut = len(data)
    start = data.rfind(b"\\", max(0, cut - 12))
    while start >= 0:
        run = start  # (the backslashes before it: an even count makes it an escape's first)
        while run > 0 and data[run - 1 : run] == b"\\":
            run -= 1
        if (start - run) % 2 == 0:
            cut = start  # (kept for the next piece, with what follows it)
        start = data.rfind(b"\\", max(0, len(data) - 12), start)
    return cut


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
