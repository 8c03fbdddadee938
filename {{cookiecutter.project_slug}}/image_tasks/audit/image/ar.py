"""Unix ``ar`` archives (Debian packages: ``debian-binary``, ``control.tar.*``, ``data.tar.*``),
read in order: a 60-byte header per member, its data, a padding byte to an even offset.

Names: short names (GNU's trailing ``/`` dropped), BSD's ``#1/LEN`` (the name opens the data),
GNU's ``/OFFSET`` into the ``//`` table of long names.  A malformed header ends the archive with
`ArError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .readers import Reader

MAGIC = b"!<arch>\n"
HEADER = 60
MAX_NAMES = 1 << 20  # GNU's table of long names, read into memory


class ArError(ValueError):
    """The archive is malformed from here on."""


@dataclass
class ArMember:
    name: str
    size: int


class ArStream(Reader):
    """Iterate over the members of an ``ar`` archive read from ``upstream`` (its magic already
    checked); as a `Reader`, it reads the current member's data."""

    def __init__(self, upstream: Reader) -> None:
        self.upstream = upstream
        self.remaining = 0
        self.pad = 0
        self.names = b""
        self._read_exact(len(MAGIC))

    def _read_exact(self, n: int) -> bytes:
        out = bytearray(n)
        view = memoryview(out)
        got = 0
        while got < n:
            k = self.upstream.readinto(view[got:])
            if not k:
                break
            got += k
        self.upstream.barrier()
        return bytes(out[:got])

    def readinto(self, view) -> int:
        n = min(len(view), self.remaining)
        if not n:
            return 0
        k = self.upstream.readinto(view[:n])
        if not k:
            raise ArError("truncated")
        self.remaining -= k
        return k

    def _skip_rest(self) -> None:
        scratch = memoryview(bytearray(1 << 16))
        while self.remaining:
            if not self.readinto(scratch):
                break
            self.upstream.barrier()
        if self.pad:
            self._read_exact(self.pad)
            self.pad = 0

    def __iter__(self) -> Iterator[ArMember]:
        while True:
            self._skip_rest()
            header = self._read_exact(HEADER)
            if not header:
                return
            if len(header) < HEADER or header[58:60] != b"`\n":
                raise ArError("malformed header")
            try:
                size = int(header[48:58].strip() or b"0")
            except ValueError:
                raise ArError("malformed size") from None
            name = header[:16].rstrip(b" ")
            self.remaining, self.pad = size, size & 1
            if name.startswith(b"#1/"):  # BSD: the name is the data's first bytes
                length = int(name[3:]) if name[3:].isdigit() else -1
                if not 0 <= length <= size:
                    raise ArError("malformed name")
                self.remaining -= length
                name = self._read_exact(length).rstrip(b"\0")
            elif name == b"//":  # GNU: the table of long names
                if size > MAX_NAMES:
                    raise ArError("table of names too large")
                self.names = self._read_exact(size)
                self.remaining = 0
                continue
            elif name.startswith(b"/") and name[1:].isdigit():
                start = int(name[1:])
                end = self.names.find(b"/\n", start)
                name = self.names[start : end if end >= 0 else None]
            elif name not in (b"/", b"/SYM64/"):
                name = name.removesuffix(b"/")
            else:  # the symbol table: scanned as data like any member
                name = b"<symbols>"
            yield ArMember(name.decode("utf-8", "surrogateescape"), self.remaining)
