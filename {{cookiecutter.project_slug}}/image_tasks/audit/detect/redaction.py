"""Excerpts that show where a secret is without showing the secret.

Two layers of defence:

1. `excerpt` builds the text from the bytes around a match, replacing the secret's span (and,
   for canaries, the whole whitespace-delimited token that holds it, since a needle may be
   only part of an encoded secret) with a marker, and dropping context tokens cut by the
   excerpt's edges;
2. `Scrubber` replaces every known secret (all encodings of every canary and every secret a
   rule matched) in any text the report writes, in every format, as a last check.
"""

from __future__ import annotations

CONTEXT = 40
MASK = "****"


def _text(data: bytes) -> str:
    text = data.decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else ("\\t" if c == "\t" else f"\\x{ord(c):02x}") for c in text
    )


def _left(buf, lo: int, start: int, whole_token: bool) -> bytes:
    """Context before ``start``: same line, at most CONTEXT bytes, no partial token."""
    a = max(lo, start - CONTEXT)
    data = bytes(buf[a:start])
    nl = max(data.rfind(b"\n"), data.rfind(b"\r"))
    if nl >= 0:
        data = data[nl + 1 :]
    elif a > lo and data:
        cut = data.find(b" ")
        data = data[cut + 1 :] if cut >= 0 else b""
    if whole_token and data and not data[-1:].isspace():
        cut = max(data.rfind(b" "), data.rfind(b"\t"))
        data = data[: cut + 1] if cut >= 0 else b""
    return data


def _right(buf, end: int, hi: int, whole_token: bool) -> bytes:
    b = min(hi, end + CONTEXT)
    data = bytes(buf[end:b])
    nl = min((i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0), default=-1)
    if nl >= 0:
        data = data[:nl]
    elif b < hi and data:
        cut = data.rfind(b" ")
        data = data[:cut] if cut >= 0 else b""
    if whole_token and data and not data[:1].isspace():
        cut = min((i for i in (data.find(b" "), data.find(b"\t")) if i >= 0), default=-1)
        data = data[cut:] if cut >= 0 else b""
    return data


def excerpt(
    buf,
    lo: int,
    hi: int,
    start: int,
    end: int,
    spans: list[tuple[int, int]] | None = None,
    marker: str = MASK,
    whole_token: bool = False,
) -> str:
    """Render buf[start:end] with ``spans`` (absolute) masked, plus a little context.

    With ``whole_token`` the match is replaced by ``marker`` entirely, together with the
    non-blank characters touching it (a canary needle may be a part of a longer secret).
    """
    left = _left(buf, lo, start, whole_token)
    right = _right(buf, end, hi, whole_token)
    if whole_token or not spans:
        middle = marker
    else:
        parts = []
        pos = start
        for a, b in sorted(spans):
            if a < pos:
                continue
            parts.append(_text(bytes(buf[pos:a])))
            parts.append(MASK)
            pos = b
        parts.append(_text(bytes(buf[pos:end])))
        middle = "".join(parts)
    out = _text(left) + middle + _text(right)
    return out.strip()


class Scrubber:
    """Replace every known secret in a text; the last line of defence before output."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()

    def add(self, secret: bytes | str) -> None:
        if isinstance(secret, bytes):
            secret = secret.decode("utf-8", "backslashreplace")
        if len(secret) >= 4:
            self.secrets.add(secret)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, "[REDACTED]")
        return text
