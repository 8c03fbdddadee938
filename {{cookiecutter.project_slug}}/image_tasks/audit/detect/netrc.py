"""netrc text, read as Python's ``netrc`` module reads it, leniently and without ever echoing a
value.

The standard library's ``netrc.NetrcParseError`` quotes the offending token, which may be the
password; this parser skips what it cannot read instead, and never puts a value in an exception
message.  It splits tokens as ``netrc`` does, and ``#`` starts a comment only where a keyword is
expected (``password #x`` is a password).  A netrc that yields fewer passwords than its entries
or its ``password`` keywords gets a secret-free note (`note`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DUMMY_PASSWORDS = frozenset(
    {"", "x-oauth-basic", "x-oauth", "oauth2", "x", "none", "null", "dummy", "unused", "-", "*"}
)


@dataclass(frozen=True)
class NetrcEntry:
    machine: str | None  # None for "default"
    login: str | None
    password: str | None
    account: str | None


_NETRC_SPACE = " \t\r\n"  # what Python's netrc lexer splits on


class _NetrcLexer:
    """The tokens of a netrc text, split as Python's ``netrc`` module splits them: on space,
    tab, CR and LF; a token that starts with ``"`` runs to the next ``"``; a backslash escapes
    the next character.  Comments are the parser's business (`parse`): ``#`` starts one
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


def parse(text: str) -> list[NetrcEntry]:
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


def looks_like(text: str) -> bool:
    words = set(text.split())
    return ("machine" in words or "default" in words) and ("password" in words or "login" in words)


_PASSWORD_WORD = re.compile(r"(?:^|[ \t\r\n])(?:password|passwd)(?=[ \t\r\n])")


def note(text: str, origin: str) -> str | None:
    """A secret-free note when a netrc yields fewer passwords than it seems to hold: fewer
    than its entries, or than the ``password`` keywords in its text (a syntax the parser read
    otherwise than the tool that uses the file); None when nothing looks lost."""
    entries = parse(text)
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
