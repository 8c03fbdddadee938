"""A streaming tar reader that parses the 512-byte headers by hand.

Why not `tarfile`: on an image with tens of thousands of files its per-member overhead costs
more than reading the bytes (see DESIGN.md, "Figures measured here"), and it wants to seek.
This reader never seeks and never writes: it reads its upstream (anything with
``readinto``) into one reused buffer and hands out the data of each member as
``(buffer, start, end)`` pieces, so the scanner can call ``buffer.find(needle, start, end)``
without copying.  A member no larger than the buffer is always handed out in one piece.

Formats: ustar (with prefix), GNU (long names ``L``, long link names ``K``, base-256 numbers,
old sparse ``S`` with its extension blocks), pax (``x`` per member, ``g`` global: ``path``,
``linkpath``, ``size``, ``GNU.sparse.name`` are applied; every record is handed to the scanner
in `Member.pax`).  Unknown type flags are read as regular files,
as POSIX asks.  Every bound is checked: a corrupt or truncated stream raises `AuditError`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from .errors import AuditError

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
DEFAULT_BUFFER = 1 << 20
DEFAULT_BUFFERS = 6  # lets the sha256 thread lag the scan by several buffers
MAX_META = 1 << 20  # a pax header or GNU long name larger than this is hostile
MAX_SPARSE_BLOCKS = 4096

REGULAR_TYPES = frozenset(b"07")
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


@dataclass(slots=True)
class Member:
    """One entry of a tar stream."""

    name: str  # normalised, '/'-separated, without leading '/' or './'
    raw_name: bytes
    kind: str  # file, dir, symlink, hardlink, device, fifo, other
    size: int  # bytes of data that follow the header
    linkname: str
    mode: int
    index: int  # position in the stream, from 0
    # every pax record (key, value) of this member's 'x' headers, and of the 'g' headers read
    # since the previous member, in stream order (for the scanner: any value may hold a secret)
    pax: list[tuple[bytes, bytes]] | None = None


def decode_name(raw: bytes) -> str:
    """Decode a name from an archive; bytes that are not UTF-8 survive as surrogates."""
    return raw.decode("utf-8", "surrogateescape")


def printable(name: str) -> str:
    """A name made safe to print: undecodable bytes and control characters escaped."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def normalise(name: str) -> str:
    """Lexically normalise a member name: no '.', no '..' above the root, no leading '/'."""
    if not name.startswith((".", "/")) and "//" not in name and "/." not in name:
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


def _checksum_ok(block: bytes) -> bool:
    try:
        stored = int(block[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    field_sum = sum(block[148:156])
    # adler32's low half is (1 + sum of bytes) mod 65521: the byte sum without a Python loop.
    quick = ((zlib.adler32(block) & 0xFFFF) - 1) % 65521
    if (stored - 256 + field_sum) % 65521 == quick:
        return True
    signed = sum(b - 256 if b > 127 else b for b in block)
    signed_field = sum(b - 256 if b > 127 else b for b in block[148:156])
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


class TarStream:
    """Iterate over the members of a tar read from ``upstream`` (``readinto``; no seeking).

    ``what`` names the stream in error messages.  ``max_bytes`` bounds how much is read.
    """

    def __init__(
        self,
        upstream,
        what: str,
        *,
        buffer_size: int = DEFAULT_BUFFER,
        max_bytes: int | None = None,
        max_members: int = 5_000_000,
        buffers: int = DEFAULT_BUFFERS,
    ) -> None:
        self.upstream = upstream
        self.what = what
        # a ring of buffers, filled in turn: while one is scanned, the upstream may still be
        # hashing the ones filled before it (see streams.HashingReader); a buffer is reused
        # only once every hash job submitted while it was filled is done
        # allocated when first needed: a small layer never gets past its first buffer
        self.bufs: list[bytearray | None] = [bytearray(buffer_size)] + [None] * (
            max(2, buffers) - 1
        )
        self.views: list[memoryview | None] = [memoryview(self.bufs[0])] + [None] * (
            len(self.bufs) - 1
        )
        self.current = len(self.bufs) - 1  # so that the first fill goes to buffer 0
        self.buf = self.bufs[0]  # (empty until then)
        self.view = self.views[0]
        self._jobs = getattr(upstream, "hash_jobs", None)
        self._settle = getattr(upstream, "settle", None)
        if self._jobs is not None and self._settle is not None:
            upstream.allow_pending(None)
        else:
            self._jobs = self._settle = None
        self.marks = [0] * len(self.bufs)  # hash jobs submitted up to each buffer's fill
        self.pos = 0
        self.end = 0
        # bumped whenever the buffer's contents move (`_fill`): offsets into ``buf`` that a
        # caller computed (a scan of the whole buffer, see scanner) are valid while it stays
        self.generation = 0
        self.consumed = 0  # bytes of the stream before buf[0]
        self.eof = False
        self.max_bytes = max_bytes
        self.max_members = max_members
        self.remaining = 0  # data bytes of the current member not yet handed out
        self.padding = 0
        self.member: Member | None = None
        self.clean_end = False

    # -- buffer management -------------------------------------------------------------
    @property
    def offset(self) -> int:
        """Offset in the stream of the next unread byte."""
        return self.consumed + self.pos

    def _fill(self, need: int) -> bool:
        """Make ``need`` bytes available at ``pos``; False when the stream ends first."""
        if self.end - self.pos >= need:
            return True
        if self.eof:
            return False
        left = self.end - self.pos
        other = self.current + 1
        if other == len(self.bufs):
            other = 0
        if self.bufs[other] is None:
            self.bufs[other] = bytearray(len(self.buf))
            self.views[other] = memoryview(self.bufs[other])
        elif self._settle is not None:
            self._settle(self.marks[other])  # its old contents must be hashed before reuse
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
        if self._jobs is not None:
            self.marks[other] = self._jobs()
        if self.max_bytes is not None and self.consumed + self.end > self.max_bytes:
            raise AuditError(
                f"{self.what} expands to more than {self.max_bytes} bytes, the limit set for "
                "it; it looks like a decompression bomb. Raise the limit only if the image is "
                "genuinely that large."
            )
        return self.end - self.pos >= need

    def _truncated(self) -> AuditError:
        return AuditError(
            f"{self.what} is truncated at byte {self.offset}: the stream ends inside a tar "
            "member. Save the image again (the archive is incomplete or corrupt)."
        )

    def _skip(self, n: int) -> None:
        while n:
            avail = self.end - self.pos
            if not avail:
                if not self._fill(1):
                    raise self._truncated()
                continue
            k = min(avail, n)
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
        """The rest of the current member's data as one ``(buffer, start, end)``, consumed,
        when it fits in the buffer; None (nothing consumed) when it does not."""
        n = self.remaining
        if n > len(self.buf):
            return None
        if self.end - self.pos < n and not self._fill(n):
            raise self._truncated()
        start = self.pos
        self.pos = start + n
        self.remaining = 0
        return self.buf, start, start + n

    def seek_past(self, seek) -> None:
        """Skip the rest of the current member's data and padding without reading it:
        ``seek(n)`` must move the upstream ``n`` bytes forward (a plain, uncompressed file).
        Used when another process reads that member from the same file."""
        n = self.remaining + self.padding
        self.remaining = self.padding = 0
        avail = self.end - self.pos
        if n <= avail:
            self.pos += n
            return
        seek(n - avail)
        self.consumed += self.pos + n
        self.pos = self.end = 0
        self.generation += 1

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
        """Read the current member's data into ``view`` (a file-like face for nesting)."""
        n = min(len(view), self.remaining)
        if not n:
            return 0
        avail = self.end - self.pos
        if avail:
            k = min(avail, n)
            view[:k] = self.view[self.pos : self.pos + k]
            self.pos += k
        else:
            k = self.upstream.readinto(view[:n])
            if not k:
                raise self._truncated()
            self.consumed += k
            if self.max_bytes is not None and self.consumed + self.end > self.max_bytes:
                raise AuditError(f"{self.what} exceeds its {self.max_bytes}-byte limit.")
        self.remaining -= k
        return k

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes of the current member (for decompressors that want it)."""
        if size is None or size < 0:
            size = self.remaining
        out = bytearray(min(size, self.remaining))
        n = self.readinto(memoryview(out)) if out else 0
        return bytes(out[:n])

    def barrier(self) -> None:
        barrier = getattr(self.upstream, "barrier", None)
        if barrier is not None:
            barrier()

    # -- headers -------------------------------------------------------------------------
    def __iter__(self):
        what = self.what
        global_pax: dict[str, bytes] = {}
        index = 0
        max_members = self.max_members
        adler32 = zlib.adler32
        while True:
            skip = self.remaining + self.padding
            if skip:
                # the rest of the member and its padding: usually still in the buffer
                if self.end - self.pos >= skip:
                    self.pos += skip
                else:
                    self._skip(skip)
                self.remaining = self.padding = 0
            long_name = long_link = None
            pax: dict[str, bytes] | None = None
            records: list[tuple[bytes, bytes]] | None = None
            while True:
                pos = self.pos
                if self.end - pos < BLOCK:
                    if not self._fill(BLOCK):
                        if self.end == self.pos:
                            return  # no end-of-archive marker: tolerated, as tar does
                        raise self._truncated()
                    pos = self.pos
                block = bytes(self.buf[pos : pos + BLOCK])
                if block == ZERO_BLOCK:
                    self.pos = pos + BLOCK
                    self.clean_end = True
                    return
                # checksum: the common layout ("%06o\0 ") parsed directly, adler32's low half
                # giving the byte sum (see `_checksum_ok`, which handles everything else)
                field = block[148:156]
                ok = False
                if field[6:] == b"\0 ":
                    try:
                        stored = int(field[:6], 8)
                    except ValueError:
                        pass
                    else:
                        quick = ((adler32(block) & 0xFFFF) - 1) % 65521
                        ok = (stored - 256 + sum(field)) % 65521 == quick
                if not ok and not _checksum_ok(block):
                    raise self._bad_checksum()
                self.pos = pos + BLOCK
                typeflag = block[156:157]
                size_field = block[124:136]
                size = _octal(size_field, what)
                if typeflag in META_TYPES:
                    if typeflag == b"L":
                        long_name = self._read_meta(size, "GNU long name").split(b"\0", 1)[0]
                    elif typeflag == b"K":
                        long_link = self._read_meta(size, "GNU long link").split(b"\0", 1)[0]
                    else:
                        parsed = _parse_pax(
                            self._read_meta(size, "pax" if typeflag == b"x" else "pax global"),
                            what,
                        )
                        if records is None:
                            records = []
                        records += parsed
                        fields = {k.decode("utf-8", "replace"): v for k, v in parsed}
                        if typeflag == b"x":
                            if pax is None:
                                pax = {}
                            pax.update(fields)
                        else:
                            global_pax.update(fields)
                    continue
                break
            index += 1
            if index > max_members:
                raise AuditError(f"{what} has more than {max_members} members; refusing.")
            raw_name = block[0:100].split(b"\0", 1)[0]
            if block[345] and block[257:263] == b"ustar\x00":
                raw_name = block[345:500].split(b"\0", 1)[0] + b"/" + raw_name
            if long_name is not None:
                raw_name = long_name
            raw_link = block[157:257].split(b"\0", 1)[0] if block[157] else b""
            if long_link is not None:
                raw_link = long_link
            if pax or global_pax:
                fields = {**global_pax, **pax} if pax else global_pax
                raw_name = fields.get("GNU.sparse.name", fields.get("path", raw_name))
                raw_link = fields.get("linkpath", raw_link)
                if "size" in fields:
                    try:
                        size = int(fields["size"])
                    except ValueError:
                        raise AuditError(f"{what}: a pax size is malformed.") from None
            if size < 0:
                raise AuditError(f"{what}: a member has a negative size; the archive is corrupt.")
            if typeflag == b"S" and block[482]:
                extension = 0
                while True:
                    if not self._fill(BLOCK):
                        raise self._truncated()
                    isextended = self.buf[self.pos + 504]
                    self.pos += BLOCK
                    extension += 1
                    if not isextended:
                        break
                    if extension > MAX_SPARSE_BLOCKS:
                        raise AuditError(f"{what}: a sparse member's map is too long.")
            if typeflag in NO_DATA_TYPES:
                size = 0
            mode = _octal(block[100:108], what)
            name = raw_name.decode("utf-8", "surrogateescape")
            self.member = member = Member(
                normalise(name),
                raw_name,
                KIND_BY_TYPE.get(typeflag, "file"),
                size,
                raw_link.decode("utf-8", "surrogateescape") if raw_link else "",
                mode,
                index - 1,
                records,
            )
            self.remaining = size
            self.padding = -size % BLOCK
            yield member

    def _bad_checksum(self) -> AuditError:
        return AuditError(
            f"{self.what} has a corrupt tar header at byte {self.offset} (bad checksum); "
            "the archive is damaged or is not a tar. Save the image again."
        )

    def drain(self) -> None:
        """Read to the end of the upstream (so that a whole blob gets hashed)."""
        if self.remaining:
            self._skip(self.remaining)
            self.remaining = 0
        self.pos = self.end
        while self._fill(1):
            self.pos = self.end
