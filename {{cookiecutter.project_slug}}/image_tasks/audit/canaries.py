"""Canaries: the known secrets the audit looks for, and the encodings it looks for them in.

Where canaries come from:

* a netrc file (``--netrc PATH``): every password, and every login that is used as a token
  (no password, an empty or well-known dummy password such as ``x-oauth-basic``, or a login
  that looks like a token: ``pypi-``, ``ghp_``..., or long and high-entropy);
* an environment variable (``--canary-env VAR``): its value, or, when the value is netrc
  text (CI passes the netrc *contents* in ``NET_RC``), the secrets of that netrc.

The netrc parser is our own: the standard library's ``netrc.NetrcParseError`` quotes the
offending token, which may be the password.  Nothing in this module ever puts a secret in an
exception message.

Encodings searched (`needles`): the raw value; its percent-encoding (upper- and lower-case
hex, ``+`` for space); its JSON escaping; base64 and URL-safe base64 of the value at the three
byte alignments, each stripped of the edge characters that depend on neighbouring bytes.  Any
base64 text that contains the value contains one of these cores, so base64 of
``login:password`` (HTTP basic auth, docker ``auths``) is found too.  When a core is too short
to be specific, the cores of ``login:password`` are searched instead.  Variants that share a
long common substring are searched through that substring alone (one pass instead of several).
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

MIN_CANARY = 6
MIN_ANCHOR = 12
DUMMY_PASSWORDS = frozenset(
    {"", "x-oauth-basic", "x-oauth", "oauth2", "x", "none", "null", "dummy", "unused", "-", "*"}
)
TOKEN_PREFIXES = (
    "pypi-",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "AKIA",
    "npm_",
    "hf_",
)
NETRC_KEYWORDS = ("machine", "default", "login", "password", "account", "macdef")


@dataclass(frozen=True)
class Canary:
    """A secret value to look for; ``label`` is how reports name it (never the value)."""

    label: str
    value: str
    login: str | None = None


@dataclass(frozen=True)
class NetrcEntry:
    machine: str | None  # None for "default"
    login: str | None
    password: str | None
    account: str | None


@dataclass
class Needle:
    """A byte string searched in contents, and the encodings it stands for."""

    data: bytes
    canary: int  # index into the canary list
    encodings: tuple[str, ...]


@dataclass
class CanarySet:
    canaries: list[Canary] = field(default_factory=list)
    needles: list[Needle] = field(default_factory=list)
    # every encoded form, for names, configs and the final scrub of all output
    variants: list[tuple[bytes, int, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # labels of canaries too short to search

    @property
    def max_needle(self) -> int:
        return max((len(n.data) for n in self.needles), default=0)

    def secrets(self) -> list[bytes]:
        """Every encoded form of every canary, longest first (for scrubbing output)."""
        return sorted({v for v, _, _ in self.variants}, key=len, reverse=True)


def _tokens(text: str) -> Iterable[tuple[str, int]]:
    """Tokens of a netrc text with their line numbers; quoted tokens may hold spaces."""
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c == '"':
            i += 1
            out = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                if text[i] == "\n":
                    line += 1
                out.append(text[i])
                i += 1
            i += 1
            yield "".join(out), line
        else:
            out = []
            while i < n and not text[i].isspace():
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                out.append(text[i])
                i += 1
            yield "".join(out), line


def parse_netrc(text: str) -> list[NetrcEntry]:
    """Parse netrc text leniently; never raises with (and never echoes) a value."""
    entries: list[NetrcEntry] = []
    current: dict[str, str | None] | None = None
    tokens = list(_tokens(text))
    i = 0
    macdef_lines: set[int] = set()

    def close() -> None:
        if current is not None:
            entries.append(NetrcEntry(**current))

    while i < len(tokens):
        word, line = tokens[i]
        if line in macdef_lines:
            i += 1
            continue
        if word == "machine":
            close()
            current = {"machine": None, "login": None, "password": None, "account": None}
            if i + 1 < len(tokens):
                current["machine"] = tokens[i + 1][0]
            i += 2
        elif word == "default":
            close()
            current = {"machine": None, "login": None, "password": None, "account": None}
            i += 1
        elif word in ("login", "password", "passwd", "account") and current is not None:
            if i + 1 < len(tokens):
                current[word.replace("passwd", "password")] = tokens[i + 1][0]
            i += 2
        elif word == "macdef":
            # a macro body runs to the next empty line; skip it
            lines = text.split("\n")
            j = line  # lines after the macdef line (1-based line numbers)
            while j < len(lines) and lines[j].strip():
                macdef_lines.add(j + 1)
                j += 1
            i += 2
        else:
            i += 1
    close()
    return entries


def looks_like_netrc(text: str) -> bool:
    words = set(text.split())
    return ("machine" in words or "default" in words) and ("password" in words or "login" in words)


def entropy(value: str) -> float:
    """Shannon entropy of a string, in bits per character."""
    if not value:
        return 0.0
    counts: dict[str, int] = {}
    for c in value:
        counts[c] = counts.get(c, 0) + 1
    n = len(value)
    return -sum(k / n * math.log2(k / n) for k in counts.values())


def looks_like_token(value: str) -> bool:
    if value.startswith(TOKEN_PREFIXES):
        return True
    classes = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
        )
    )
    return len(value) >= 20 and classes >= 2 and entropy(value) >= 3.5


def netrc_canaries(text: str, origin: str) -> list[Canary]:
    """The secrets of a netrc: passwords, and logins used as tokens."""
    found: list[Canary] = []
    for number, entry in enumerate(parse_netrc(text), 1):
        where = f"{origin} entry {number}" + (
            f" (machine {entry.machine})" if entry.machine else " (default)"
        )
        password = entry.password
        if password and password.lower() not in DUMMY_PASSWORDS:
            found.append(Canary(f"password of {where}", password, entry.login))
        # A login stands in for a token when the password is a dummy (`login TOKEN password x`),
        # but a short everyday login ("deploy") is no secret and would match everywhere.
        dummy = not password or password.lower() in DUMMY_PASSWORDS
        if entry.login and (looks_like_token(entry.login) or (dummy and len(entry.login) >= 16)):
            found.append(Canary(f"token login of {where}", entry.login, None))
    return found


def from_sources(
    netrc_paths: Sequence[str] = (),
    env_vars: Sequence[str] = (),
    values: Sequence[str] = (),
    environ=None,
) -> list[Canary]:
    """Collect canaries; raises ValueError (with a secret-free message) on unusable input."""
    environ = os.environ if environ is None else environ
    out: list[Canary] = []
    for path in netrc_paths:
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                text = handle.read(1 << 20)
        except OSError as exc:
            raise ValueError(
                f"cannot read the netrc file {path!r} ({exc.strerror or type(exc).__name__}); "
                "check the path given to --netrc."
            ) from None
        found = netrc_canaries(text, f"netrc {path}")
        if not found:
            raise ValueError(
                f"the netrc file {path!r} holds no password or token; nothing to look for. "
                "Check that it is the netrc the build uses."
            )
        out.extend(found)
    for name in env_vars:
        value = environ.get(name)
        if not value:
            raise ValueError(
                f"the environment variable {name} named by --canary-env is unset or empty; "
                "export it (in CI: map the secret into the step's env) or drop the option."
            )
        if looks_like_netrc(value):
            found = netrc_canaries(value, f"netrc in ${name}")
            out.extend(found or [Canary(f"value of ${name}", value.strip())])
        else:
            out.append(Canary(f"value of ${name}", value.strip()))
    for number, value in enumerate(values, 1):
        out.append(Canary(f"canary #{number}", value))
    unique: dict[str, Canary] = {}
    for canary in out:
        unique.setdefault(canary.value, canary)
    return list(unique.values())


def _b64_cores(raw: bytes) -> list[tuple[int, str, str]]:
    """(alignment, standard core, url-safe core) for the three byte alignments."""
    cores = []
    for align in range(3):
        text = base64.b64encode(b"\0" * align + raw).decode("ascii")
        start = -(-8 * align // 6)
        stop = (8 * (align + len(raw))) // 6
        core = text[start:stop]
        cores.append((align, core, core.replace("+", "-").replace("/", "_")))
    return cores


def _longest_run(text: str, allowed) -> tuple[int, int]:
    best = (0, 0)
    start = 0
    for i, c in enumerate(text + "\0"):
        if c == "\0" or not allowed(c):
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = i + 1
    return best


def _unreserved(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c in "_.-~")


def build(canaries: Sequence[Canary]) -> CanarySet:
    """Derive the needles (what is searched) and variants (what is scrubbed) of canaries."""
    result = CanarySet(canaries=list(canaries))
    for index, canary in enumerate(canaries):
        value = canary.value
        raw = value.encode("utf-8", "surrogateescape")
        if len(raw) < MIN_CANARY:
            result.skipped.append(canary.label)
            continue
        text_forms = {value: "raw"}
        for form, name in (
            (quote(value, safe=""), "percent-encoded"),
            (
                re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(value, safe="")),
                "percent-encoded",
            ),
            (quote_plus(value, safe=""), "percent-encoded"),
            (json.dumps(value)[1:-1], "JSON-escaped"),
            (
                json.dumps(value, ensure_ascii=False)[1:-1]
                .replace("<", "\\u003c")
                .replace(">", "\\u003e")
                .replace("&", "\\u0026"),
                "JSON-escaped",
            ),
        ):
            text_forms.setdefault(form, name)
        for form, name in text_forms.items():
            result.variants.append((form.encode("utf-8", "surrogateescape"), index, name))
        # one needle for all text forms when they share a long unreserved run
        start, stop = _longest_run(value, _unreserved)
        run = value[start:stop]
        if len(text_forms) == 1:
            result.needles.append(Needle(raw, index, ("raw",)))
        elif len(run) >= MIN_ANCHOR or run == value:
            names = tuple(sorted(set(text_forms.values())))
            result.needles.append(Needle(run.encode("ascii"), index, names))
        else:
            for form, name in text_forms.items():
                result.needles.append(
                    Needle(form.encode("utf-8", "surrogateescape"), index, (name,))
                )
        # base64 at three alignments; fall back to login:password when cores are short
        sources = [(raw, "base64")]
        cores = _b64_cores(raw)
        if min(len(c) for _, c, _ in cores) < MIN_ANCHOR and canary.login:
            sources.append(
                (
                    (canary.login + ":" + value).encode("utf-8", "surrogateescape"),
                    "base64 of login:password",
                )
            )
        for source, name in sources:
            for align, std, url in _b64_cores(source):
                label = f"{name} (alignment {align})"
                result.variants.append((std.encode(), index, label))
                if url != std:
                    result.variants.append((url.encode(), index, label))
                if len(std) < 8:
                    continue
                if url == std:
                    result.needles.append(Needle(std.encode(), index, (label,)))
                    continue
                a, b = _longest_run(std, lambda c: c not in "+/")
                if b - a >= MIN_ANCHOR:
                    result.needles.append(Needle(std[a:b].encode(), index, (label,)))
                else:
                    result.needles.append(Needle(std.encode(), index, (label,)))
                    result.needles.append(Needle(url.encode(), index, (label + ", URL-safe",)))
    seen: set[bytes] = set()
    unique = []
    for needle in result.needles:
        if needle.data not in seen:
            seen.add(needle.data)
            unique.append(needle)
    result.needles = unique
    return result
