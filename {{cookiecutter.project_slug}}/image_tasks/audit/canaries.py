"""Canaries: the known secrets the audit looks for, and the encodings it looks for them in.

Where canaries come from:

* a netrc file (``--netrc PATH``): every password, and every login that is used as a token
  (no password, an empty or well-known dummy password such as ``x-oauth-basic``, or a login
  that looks like a token: ``pypi-``, ``ghp_``..., or long and high-entropy);
* an environment variable (``--canary-env VAR``): its value, or, when the value is netrc
  text (CI passes the netrc *contents* in ``NET_RC``), the secrets of that netrc.

The netrc parser is our own: the standard library's ``netrc.NetrcParseError`` quotes the
offending token, which may be the password.  Nothing in this module ever puts a secret in an
exception message.  It splits tokens as ``netrc`` does, and ``#`` starts a comment only
where a keyword is expected (``password #x`` is a password).  A netrc that yields fewer
passwords than its entries or its ``password`` keywords gets a secret-free note in the report.

Encodings searched (`needles`): the raw value; its percent-encodings (upper- and lower-case
hex: every reserved character, or ``/`` kept as ``quote`` does by default, or ``+`` for space,
or only ``%`` ``@`` ``:``); its JSON escaping (also with ``\\/`` for ``/``); identical forms
are one (a value of letters and digits has one form); base64 and URL-safe base64 of the
value at the three byte alignments, each stripped of the edge characters that depend on
neighbouring bytes.  Any
base64 text that contains the value contains one of these cores, so base64 of
``login:password`` (HTTP basic auth, docker ``auths``) is found too.  When a core is too short
to be specific, the cores of ``login:password`` are searched instead.  For base64 wrapped
across lines, the head and tail of each core of 24 characters or more (`Fragment`) are
searched in text files and verified with CR and LF removed (see the policy in `rules`).
Variants that share a long common substring are searched through that substring alone (one
pass instead of several).
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

MIN_CANARY = 6
MIN_ANCHOR = 12
MAX_FRAGMENT = 16  # length of the pieces searched for line-wrapped base64
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
class Fragment:
    """A piece of a base64 core, searched in text files to find the core broken across lines
    (``base64`` and ``encodebytes`` wrap at 76 columns, PEM at 64): a hit is verified by
    removing CR and LF around it and finding the whole ``core`` there."""

    data: bytes
    offset: int  # where ``data`` starts in ``core``
    core: bytes
    canary: int
    encoding: str


@dataclass
class CanarySet:
    canaries: list[Canary] = field(default_factory=list)
    needles: list[Needle] = field(default_factory=list)
    # every encoded form, for names, configs and the final scrub of all output
    variants: list[tuple[bytes, int, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # labels of canaries too short to search
    fragments: list[Fragment] = field(default_factory=list)  # for line-wrapped base64

    @property
    def max_needle(self) -> int:
        return max((len(n.data) for n in self.needles), default=0)

    def secrets(self) -> list[bytes]:
        """Every encoded form of every canary, longest first (for scrubbing output)."""
        return sorted({v for v, _, _ in self.variants}, key=len, reverse=True)


_NETRC_SPACE = " \t\r\n"  # what Python's netrc lexer splits on


class _NetrcLexer:
    """The tokens of a netrc text, split as Python's ``netrc`` module splits them: on space,
    tab, CR and LF; a token that starts with ``"`` runs to the next ``"``; a backslash escapes
    the next character.  Comments are the parser's business (`parse_netrc`): ``#`` starts one
    only where a keyword is expected, never in a value (``password #x`` is a password)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.pushed: list[str] = []

    def token(self) -> str | None:
        """The next token, or None at the end of the text."""
        if self.pushed:
            return self.pushed.pop()
        text, n, i = self.text, len(self.text), self.pos
        while i < n and text[i] in _NETRC_SPACE:
            if text[i] == "\n":
                self.line += 1
            i += 1
        if i >= n:
            self.pos = i
            return None
        out = []
        quoted = text[i] == '"'
        if quoted:
            i += 1
        while i < n:
            c = text[i]
            if (c == '"') if quoted else (c in _NETRC_SPACE):
                if c == "\n":
                    self.line += 1
                i += 1  # the closing quote or the ending space is consumed, as in Python
                break
            if c == "\\" and i + 1 < n:
                i += 1
                c = text[i]
            if c == "\n":
                self.line += 1
            out.append(c)
            i += 1
        self.pos = i
        return "".join(out)

    def rest_of_line(self) -> str:
        """Consume and return the text up to and including the next newline."""
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end + 1
        line = self.text[self.pos : end]
        self.pos = end
        if line.endswith("\n"):
            self.line += 1
        return line

    def word(self) -> str | None:
        """The next token where a keyword is expected; there '#' starts a comment to the end of
        its line, which is skipped."""
        while True:
            line = self.line
            word = self.token()
            if word is None or not word.startswith("#"):
                return word
            if self.line == line:
                self.rest_of_line()


def parse_netrc(text: str) -> list[NetrcEntry]:
    """Parse netrc text as Python's ``netrc`` module does, but leniently (an unknown token is
    skipped, where ``netrc`` raises); never raises with (and never echoes) a value.

    ``#`` starts a comment (to the end of its line) only where a keyword is expected; the
    token after ``machine``, ``login``, ``password``, ``account`` is a value whatever its first
    character.  A ``macdef`` body runs to the first empty line.
    """
    entries: list[NetrcEntry] = []
    lex = _NetrcLexer(text)
    while (word := lex.word()) is not None:
        if word == "macdef":
            lex.token()  # the macro's name
            while lex.pos < len(text) and lex.rest_of_line() != "\n":
                pass
            continue
        if word == "machine":
            machine = lex.token()
        elif word == "default":
            machine = None
        else:
            continue  # netrc raises "bad toplevel token" here
        fields: dict[str, str | None] = {"login": None, "password": None, "account": None}
        while (word := lex.word()) is not None:
            if word in ("machine", "default", "macdef"):
                lex.pushed.append(word)
                break
            key = {"user": "login", "passwd": "password"}.get(word, word)
            if key in fields:
                fields[key] = lex.token()
            # else: netrc raises "bad follower token"; skipped here
        entries.append(NetrcEntry(machine=machine, **fields))
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
        found += entry_canaries(entry.login, entry.password, where)
    return found


def entry_canaries(login: str | None, password: str | None, where: str) -> list[Canary]:
    """The secrets of one netrc entry, however it was parsed: its password, and its login when
    that is used as a token; ``where`` names the entry in the labels."""
    found = []
    if password and password.lower() not in DUMMY_PASSWORDS:
        found.append(Canary(f"password of {where}", password, login))
    # A login stands in for a token when the password is a dummy (`login TOKEN password x`),
    # but a short everyday login ("deploy") is no secret and would match everywhere.
    dummy = not password or password.lower() in DUMMY_PASSWORDS
    if login and (looks_like_token(login) or (dummy and len(login) >= 16)):
        found.append(Canary(f"token login of {where}", login, None))
    return found


_PASSWORD_WORD = re.compile(r"(?:^|[ \t\r\n])(?:password|passwd)(?=[ \t\r\n])")


def netrc_note(text: str, origin: str) -> str | None:
    """A secret-free note when a netrc yields fewer passwords than it seems to hold: fewer
    than its entries, or than the ``password`` keywords in its text (a syntax the parser read
    otherwise than the tool that uses the file); None when nothing looks lost."""
    entries = parse_netrc(text)
    if not entries:
        return None
    read = sum(1 for e in entries if e.password)
    keywords = len(_PASSWORD_WORD.findall(text))
    if read >= len(entries) and read >= keywords:
        return None
    return (
        f"{origin}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'} and {keywords} "
        f"'password' keyword(s), but {read} password(s) read; entries without a password are "
        "searched by their token login only. Check the file's syntax if a password is missing."
    )


def from_sources(
    netrc_paths: Sequence[str] = (),
    env_vars: Sequence[str] = (),
    values: Sequence[str] = (),
    environ=None,
    notes: list[str] | None = None,
) -> list[Canary]:
    """Collect canaries; raises ValueError (with a secret-free message) on unusable input.

    ``notes``, when given, receives secret-free remarks for the report (`netrc_note`)."""
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
        note = netrc_note(text, f"netrc {path}")
        if note and notes is not None:
            notes.append(note)
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
            note = netrc_note(value, f"netrc in ${name}")
            if note and notes is not None:
                notes.append(note)
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


def _lower_hex(form: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), form)


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
        percent = [
            quote(value, safe=""),
            quote(value),  # safe="/", the default: paths and URLs built with quote()
            quote_plus(value, safe=""),
            # only the characters that break a URL's userinfo
            value.replace("%", "%25").replace("@", "%40").replace(":", "%3A"),
        ]
        percent += [_lower_hex(form) for form in percent]
        for form, name in (
            *((form, "percent-encoded") for form in percent),
            (json.dumps(value)[1:-1], "JSON-escaped"),
            (json.dumps(value)[1:-1].replace("/", "\\/"), "JSON-escaped"),  # PHP, some JS
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
                if len(std) >= 2 * MIN_ANCHOR:
                    # head and tail: a single line break anywhere in the core leaves one whole
                    k = min(MAX_FRAGMENT, len(std) // 2)
                    wrapped = label + ", line-wrapped"
                    core = std.encode()
                    result.fragments.append(Fragment(core[:k], 0, core, index, wrapped))
                    result.fragments.append(
                        Fragment(core[-k:], len(core) - k, core, index, wrapped)
                    )
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
    fragments: dict[bytes, Fragment] = {}
    for fragment in result.fragments:
        fragments.setdefault(fragment.data, fragment)
    result.fragments = list(fragments.values())
    return result
