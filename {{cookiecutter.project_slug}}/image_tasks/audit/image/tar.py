"""A streaming tar reader that parses the 512-byte headers by hand.

Why not `tarfile`: on an image with tens of thousands of files its per-member overhead costs
more than reading the bytes (see DESIGN.md, "Figures measured here"), and it wants to seek.
This reader never writes and seeks only forward, through its upstream's ``skip`` (a plain
file's lseek, to pass over a member another process scans): it reads its upstream (a
`readers.Reader`) into two buffers, filled in turn, and hands out the data of each member as
``(buffer, start, end)`` pieces, so the scanner can call ``buffer.find(needle, start, end)``
without copying.  A member no larger than the buffer is always handed out in one piece.

Formats: ustar (with prefix), GNU (long names ``L``, long link names ``K``, base-256 numbers,
old sparse ``S`` with its extension blocks), pax (``x`` per member, ``g`` global: ``path``,
``linkpath``, ``size``, ``GNU.sparse.name`` are applied; every record is handed to the scanner
in `Member.pax`).  Unknown type flags are read as regular files,
as POSIX asks.  Every bound is checked: a corrupt or truncated stream raises `AuditError`.

Every byte of the stream passes through the two buffers, and ``taps`` (objects with
``feed(buffer, start, end)`` and ``skip(n)``) see each byte once, in order, as it enters them:
the canary plane (`detect.stream_search`) and a layer's diff_id hash (`readers.HashTap`) are
taps.  Only a stream that can seek (a plain file, read in order) skips bytes, and tells its
taps how many (the outer archive's large members, which worker processes read).  `finish`
reads what follows the end-of-archive marker to the stream's end, so the taps see that too.
A member records where its headers start and its data starts (`Member.header_offset`,
`Member.data_offset`), so that a tap's hit can be named by the member it lies in.

Linear on any input: pax records are parsed once and global ones kept in one dict that a member
reads four keys of (never copied per member); the headers before one member hold at most
`MAX_META` bytes in all.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import AuditError, Stopped
from .readers import Reader

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
DEFAULT_BUFFER = 1 << 20
MAX_META = 1 << 20  # a pax header or GNU long name larger than this is hostile
MAX_SPARSE_BLOCKS = 4096

KIND_BY_TYPE = {
    b"0": "file",
    b"\0": "file",
    b"7": "file",
    b"S": "file",
    b"1": "hardlink",
    b"2": "symlink",
    b"3": "device",
    b"4": "device",
    b"5": "dir",
    b"6": "fifo",
}
# Types whose size field does not announce data (as tarfile does it).
NO_DATA_TYPES = frozenset([b"1", b"2", b"3", b"4", b"5", b"6"])
META_TYPES = frozenset([b"L", b"K", b"x", b"g"])  # headers that describe the next member
_APPLIED = frozenset([b"path", b"linkpath", b"size", b"GNU.sparse.name"])  # pax keys applied


@dataclass(slots=True)
class Member:
    """One entry of a tar stream."""

    name: str  # normalised, '/'-separated, without leading '/' or './'
    raw_name: bytes
    kind: str  # file, dir, symlink, hardlink, device, fifo, other
    size: int  # bytes of data that follow the header
    linkname: str
    index: int  # position in the stream, from 0
    # every pax record (key, value) of this member's 'x' headers, and of the 'g' headers read
    # since the previous member, in stream order (for the scanner: any value may hold a secret)
    pax: list[tuple[bytes, bytes]] | None = None
    header_offset: int = 0  # stream offset of its first header block (pax, GNU long name...)
    data_offset: int = 0  # stream offset of its data


def printable(name: str) -> str:
    """A name made safe to print: undecodable bytes and control characters escaped."""
    if name.isascii() and name.isprintable():
        return name
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def normalise(name: str) -> str:
    """Lexically normalise a member name: no '.', no '..' above the root, no leading '/'."""
    if name.startswith("./"):  # (how docker's older layers name every member)
        name = name[2:]
    name = name.lstrip("/")  # (how dpkg's lists name every file)
    if not name.startswith(".") and "//" not in name and "/." not in name:
        return name[:-1] if name.endswith("/") else name
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def _number(field: bytes, what: str) -> int:
    try:
        return int(field.strip(b" \0") or b"0", 8)
    except ValueError:
        pass
    if field and field[0] & 0x80:
        if field[0] == 0xFF:
            raise AuditError(
                f"{what}: a tar header holds a negative number; the archive is corrupt."
            )
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise AuditError(
            f"{what}: a tar header holds a malformed number; the archive is corrupt."
        ) from None


def _octal(field: bytes, what: str) -> int:
    """`_number`, with a fast path for the usual zero-padded digits ended by NUL or space."""
    if field[-1] in (0, 32):
        try:
            return int(field[:-1], 8)
        except ValueError:
            pass
    return _number(field, what)


def checksum_ok(block: bytes) -> bool:
    """Does a 512-byte tar header's checksum field match its bytes (unsigned or signed sum)?"""
    field = block[148:156]
    # the common layout ("%06o\0 ") parsed directly; adler32's low half is (1 + sum of bytes)
    # mod 65521: the byte sum without a Python loop
    quick = ((zlib.adler32(block) & 0xFFFF) - 1) % 65521
    if field[6:] == b"\0 ":
        try:
            if (int(field[:6], 8) - 256 + sum(field)) % 65521 == quick:
                return True
        except ValueError:
            pass
    try:
        stored = int(field.split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    if (stored - 256 + sum(field)) % 65521 == quick:
        return True
    signed = sum(b - 256 if b > 127 else b for b in block)
    signed_field = sum(b - 256 if b > 127 else b for b in field)
    return stored == signed - signed_field + 256


def _parse_pax(data: bytes, what: str) -> list[tuple[bytes, bytes]]:
    """The (key, value) records of a pax header, in order (a key may repeat)."""
    records: list[tuple[bytes, bytes]] = []
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            break
        space = data.find(b" ", pos)
        if space < 0:
            raise AuditError(f"{what}: a pax header is malformed; the archive is corrupt.")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise AuditError(
                f"{what}: a pax header is malformed; the archive is corrupt."
            ) from None
        if length <= space - pos or pos + length > len(data):
            raise AuditError(f"{what}: a pax header is malformed; the archive is corrupt.")
        record = data[space + 1 : pos + length - 1]
        key, sep, value = record.partition(b"=")
        if sep:
            records.append((key, value))
        pos += length
    return records


class TarStream(Reader):
    """Iterate over the members of a tar read from ``upstream`` (a `Reader`; never seeks
    except through ``upstream.skip``, which a plain file does with lseek).

    ``what`` names the stream in error messages.  ``max_bytes`` bounds how much is read (past
    it: `errors.Stopped`, an incomplete verdict).  As a
    `Reader`, it reads the current member's data (for nested readers: decompressors, tars).
    """

    def __init__(
        self,
        upstream: Reader,
        what: str,
        *,
        buffer_size: int = DEFAULT_BUFFER,
        max_bytes: int | None = None,
        max_members: int = 5_000_000,
        taps=(),
    ) -> None:
        self.upstream = upstream
        self.what = what
        # two buffers, filled in turn: while one is scanned, the upstream may still be hashing
        # the other (see readers.HashingReader); a buffer is filled again only once every hash
        # job submitted up to its last fill is done (``marks``, ``settle``).  (A ring of six
        # measured no faster: benchmarks/audit_benchmark.py.)  The second is allocated when
        # first needed: a small layer never gets past its first buffer.
        self.bufs: list[bytearray | None] = [bytearray(buffer_size), None]
        self.views: list[memoryview | None] = [memoryview(self.bufs[0]), None]
        self.marks = [0, 0]
        self.current = 1  # so that the first fill goes to buffer 0
        self.buf = self.bufs[0]  # (empty until then)
        self.view = self.views[0]
        self.pos = 0
        self.end = 0
        # bumped whenever the buffer's contents move (`_fill`): offsets into ``buf`` that a
        # caller computed (a scan of the whole buffer, see scan.layer) are valid while it stays
        self.generation = 0
        self.consumed = 0  # bytes of the stream before buf[0]
        self.eof = False
        self.max_bytes = max_bytes
        self.max_members = max_members
        self.remaining = 0  # data bytes of the current member not yet handed out
        self.padding = 0
        self.clean_end = False
        self._global_pax: dict[str, bytes] = {}
        self._count = 0
        self.taps = tuple(taps)
        self.end_offset: int | None = None  # where the end-of-archive marker starts

    # -- buffer management -------------------------------------------------------------
    @property
    def offset(self) -> int:
        """Offset in the stream of the next unread byte."""
        return self.consumed + self.pos

    def _next_buffer(self) -> int:
        other = 1 - self.current
        if self.bufs[other] is None:
            self.bufs[other] = bytearray(len(self.buf))
            self.views[other] = memoryview(self.bufs[other])
        else:
            self.upstream.settle(self.marks[other])  # its old contents must be hashed first
        return other

    def _fill(self, need: int) -> bool:
        """Make ``need`` bytes available at ``pos``; False when the stream ends first."""
        if self.end - self.pos >= need:
            return True
        if self.eof:
            return False
        left = self.end - self.pos
        other = self._next_buffer()
        self.views[other][:left] = self.view[self.pos : self.end]
        self.consumed += self.pos
        self.current = other
        self.buf = self.bufs[other]
        self.view = self.views[other]
        self.pos, self.end = 0, left
        self.generation += 1
        size = len(self.buf)
        while self.end < size:
            n = self.upstream.readinto(self.view[self.end :])
            if not n:
                self.eof = True
                break
            self.end += n
        for tap in self.taps:
            tap.feed(self.buf, left, self.end)
        self.marks[other] = self.upstream.mark()
        self._check_bound()
        return self.end - self.pos >= need

    def _check_bound(self) -> None:
        if self.max_bytes is not None and self.consumed + self.end > self.max_bytes:
            raise Stopped(
                f"expands past {self.max_bytes} bytes, its limit (a decompression bomb?); read "
                f"to byte {self.consumed + self.end}"
            )

    def _truncated(self) -> AuditError:
        return AuditError(
            f"{self.what} is truncated at byte {self.offset}: the stream ends inside a tar "
            "member. Save the image again (the archive is incomplete or corrupt)."
        )

    def _skip(self, n: int) -> None:
        """Move ``n`` bytes forward: in the buffer, then by ``upstream.skip`` (a seek)."""
        avail = self.end - self.pos
        if n <= avail:
            self.pos += n
            return
        n -= avail
        self.pos = self.end
        if n > len(self.buf):
            skipped = self.upstream.skip(n - len(self.buf))
            if skipped:  # (another reader reads these bytes: see scan.collector)
                for tap in self.taps:
                    tap.skip(skipped)
            self.consumed += skipped
            n -= skipped
        while n:
            if not self._fill(1):
                raise self._truncated()
            k = min(self.end - self.pos, n)
            self.pos += k
            n -= k

    def _read_meta(self, size: int, kind: str) -> bytes:
        if size > MAX_META:
            raise AuditError(
                f"{self.what}: a {kind} header of {size} bytes exceeds the {MAX_META}-byte "
                "limit; the archive is corrupt or hostile."
            )
        if not self._fill(size):
            raise self._truncated()
        data = bytes(self.buf[self.pos : self.pos + size])
        self.pos += size
        self._skip(-size % BLOCK)
        return data

    # -- member data -------------------------------------------------------------------
    def whole(self):
        """The rest of the current member's data as one ``(buffer, start, end)``, consumed;
        the caller makes sure it fits in the buffer."""
        n = self.remaining
        if self.end - self.pos < n and not self._fill(n):
            raise self._truncated()
        start = self.pos
        self.pos = start + n
        self.remaining = 0
        return self.buf, start, start + n

    def peek(self, n: int) -> bytes:
        """The current member's next ``n`` bytes (fewer if it has fewer), not consumed."""
        n = min(n, self.remaining)
        if self.end - self.pos < n and not self._fill(n):
            raise self._truncated()
        return bytes(self.buf[self.pos : self.pos + n])

    def pieces(self):
        """Yield ``(buffer, start, end)`` for the rest of the current member's data."""
        if 0 < self.remaining <= len(self.buf) and not self._fill(self.remaining):
            raise self._truncated()
        while self.remaining:
            avail = self.end - self.pos
            if not avail:
                if not self._fill(min(self.remaining, len(self.buf))) and self.end == self.pos:
                    raise self._truncated()
                continue
            n = min(avail, self.remaining)
            start = self.pos
            self.pos += n
            self.remaining -= n
            yield self.buf, start, start + n

    def readinto(self, view) -> int:
        """Read the current member's data into ``view``."""
        n = min(len(view), self.remaining)
        if not n:
            return 0
        if self.end == self.pos and not self._fill(1):
            raise self._truncated()
        k = min(self.end - self.pos, n)
        view[:k] = self.view[self.pos : self.pos + k]
        self.pos += k
        self.remaining -= k
        return k

    def barrier(self) -> None:
        self.upstream.barrier()

    def finish(self, tick=None) -> None:
        """After the last member: read the rest of the stream (the end-of-archive marker's
        second block, record padding, anything after) so that the taps see every byte;
        ``tick`` is called between buffers (the audit's deadline)."""
        self.remaining = self.padding = 0
        self.pos = self.end
        while not self.eof:
            if tick is not None:
                tick()
            self._fill(len(self.buf))
            self.pos = self.end

    # -- headers -------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Member]:
        while True:
            skip = self.remaining + self.padding
            if skip:  # the rest of the previous member and its padding
                self.remaining = self.padding = 0
                self._skip(skip)
            member = self._next_member()
            if member is None:
                return
            yield member

    def _header(self) -> bytes | None:
        """The next 512-byte header, checked; None at the end of the archive."""
        if self.end - self.pos < BLOCK and not self._fill(BLOCK):
            if self.end == self.pos:
                return None  # no end-of-archive marker: tolerated, as tar does
            raise self._truncated()
        pos = self.pos
        block = bytes(self.buf[pos : pos + BLOCK])
        self.pos = pos + BLOCK
        if block == ZERO_BLOCK:
            self.clean_end = True
            self.end_offset = self.offset - BLOCK
            return None
        if not checksum_ok(block):
            self.pos = pos
            raise AuditError(
                f"{self.what} has a corrupt tar header at byte {self.offset} (bad checksum); "
                "the archive is damaged or is not a tar. Save the image again."
            )
        return block

    def _next_member(self) -> Member | None:
        """Read the headers of the next member (GNU long names, pax headers) and the member's
        own header; None at the end of the archive."""
        what = self.what
        long_name = long_link = None
        pax: dict[str, bytes] = {}
        records: list[tuple[bytes, bytes]] | None = None
        header_offset = self.offset
        meta = 0  # bytes of the headers before this member
        while True:
            block = self._header()
            if block is None:
                return None
            typeflag = block[156:157]
            size = _octal(block[124:136], what)
            if typeflag not in META_TYPES:
                break
            meta += size
            if meta > MAX_META:
                kind = {b"L": "GNU long name", b"K": "GNU long link", b"x": "pax"}.get(
                    typeflag, "pax global"
                )
                raise AuditError(
                    f"{what}: the headers before one member ({kind} included) hold more than "
                    f"{MAX_META} bytes; the archive is corrupt or hostile."
                )
            if typeflag == b"L":
                long_name = self._read_meta(size, "GNU long name").split(b"\0", 1)[0]
            elif typeflag == b"K":
                long_link = self._read_meta(size, "GNU long link").split(b"\0", 1)[0]
            else:
                kind = "pax" if typeflag == b"x" else "pax global"
                parsed = _parse_pax(self._read_meta(size, kind), what)
                if records is None:
                    records = []
                records += parsed
                into = pax if typeflag == b"x" else self._global_pax
                for key, value in parsed:
                    if key in _APPLIED:  # (the only keys that change how a member is read)
                        into[key.decode()] = value
        self._count += 1
        if self._count > self.max_members:
            raise AuditError(f"{what} has more than {self.max_members} members; refusing.")
        raw_name = block[0:100].split(b"\0", 1)[0]
        if block[345] and block[257:263] == b"ustar\x00":
            raw_name = block[345:500].split(b"\0", 1)[0] + b"/" + raw_name
        if long_name is not None:
            raw_name = long_name
        raw_link = block[157:257].split(b"\0", 1)[0] if block[157] else b""
        if long_link is not None:
            raw_link = long_link
        if pax or self._global_pax:
            glob = self._global_pax
            name = pax.get("GNU.sparse.name") or glob.get("GNU.sparse.name")
            raw_name = name or pax.get("path") or glob.get("path") or raw_name
            raw_link = pax.get("linkpath") or glob.get("linkpath") or raw_link
            if "size" in pax or "size" in glob:
                size = _pax_size(pax.get("size") or glob["size"], what)
        if size < 0:
            raise AuditError(f"{what}: a member has a negative size; the archive is corrupt.")
        if typeflag == b"S" and block[482]:
            self._skip_sparse_map()
        if typeflag in NO_DATA_TYPES:
            size = 0
        self.remaining = size
        self.padding = -size % BLOCK
        return Member(
            normalise(raw_name.decode("utf-8", "surrogateescape")),
            raw_name,
            KIND_BY_TYPE.get(typeflag, "file"),
            size,
            raw_link.decode("utf-8", "surrogateescape") if raw_link else "",
            self._count - 1,
            records,
            header_offset,
            self.offset,
        )

    def _skip_sparse_map(self) -> None:
        """Old GNU sparse members: extension blocks follow the header until one says none."""
        for _ in range(MAX_SPARSE_BLOCKS + 1):
            if not self._fill(BLOCK):
                raise self._truncated()
            extended = self.buf[self.pos + 504]
            self.pos += BLOCK
            if not extended:
                return
        raise AuditError(f"{self.what}: a sparse member's map is too long.")


def _pax_size(value: bytes, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise AuditError(f"{what}: a pax size is malformed.") from None
