"""Zip archives (wheels, jars, zipapps) read in their stored order, as a stream: no seek, and
nothing held whole, whatever the archive's size.

Each local entry is met in turn: its header, its data decompressed as the caller reads it
(`ZipEntry.reader`: stored, deflate, bzip2, lzma), its data descriptor when it has one.  Then
the central directory, which readers such as Java's and Python's ``zipfile`` follow instead, is
checked against what was met: an entry the directory lists at an offset the stream did not
meet as an entry (hidden in a gap, overlapping another's data), or describes otherwise (name,
sizes, CRC), is listed in `unmet`, and so is the whole directory when it cannot be found.
Bytes before the first entry (a zipapp's ``#!`` line, a jmod's header) are passed over.

Bounds: at most `MAX_ENTRIES` entries are compared; names and extra fields are capped by
their 16-bit lengths.  A malformed header ends the reading in order (`broken`); the central
directory is then looked for further on.
"""

from __future__ import annotations

import lzma
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import CorruptStream
from .compression import Decompressing
from .readers import Reader

LOCAL = b"PK\x03\x04"
CENTRAL = b"PK\x01\x02"
END = b"PK\x05\x06"
END64 = b"PK\x06\x06"
LOCATOR64 = b"PK\x06\x07"
DESCRIPTOR = b"PK\x07\x08"
METHODS = {0: "stored", 8: "deflate", 12: "bzip2", 14: "lzma"}
MAX_ENTRIES = 1 << 20
CHUNK = 1 << 18
SMALL = 1 << 18  # an entry stored in no more bytes than this is read whole (`ZipEntry.stored`)
U32 = 0xFFFFFFFF


_LOCAL = struct.Struct("<HHHHIIIHH")  # a local header, from its flags
_CENTRAL = struct.Struct("<IIIHHH8xI")  # a directory entry, from its CRC


def _u16(b: bytes, i: int) -> int:
    return int.from_bytes(b[i : i + 2], "little")


def _u32(b: bytes, i: int) -> int:
    return int.from_bytes(b[i : i + 4], "little")


def _zip64(extra: bytes, wanted: list[bool]) -> list[int | None]:
    """The zip64 extra field's 8-byte values, for the fields ``wanted`` (those at 0xFFFFFFFF)."""
    i = 0
    while i + 4 <= len(extra):
        tag, size = _u16(extra, i), _u16(extra, i + 2)
        if tag == 1:
            data, out, j = extra[i + 4 : i + 4 + size], [], 0
            for want in wanted:
                if want and j + 8 <= len(data):
                    out.append(int.from_bytes(data[j : j + 8], "little"))
                    j += 8
                else:
                    out.append(None)
            return out
        i += 4 + size
    return [None] * len(wanted)


class _Source(Reader):
    """The archive's bytes, read from upstream in large chunks (a header is tens of bytes: one
    upstream call each would cost more than the bytes), in exact amounts, with bytes handed
    back (`unread`)."""

    def __init__(self, upstream: Reader) -> None:
        self.upstream = upstream
        self.ahead = b""  # read from upstream, not yet handed out
        self.at = 0  # where in ``ahead`` the next byte is
        self.pos = 0  # offset in the archive of the next byte
        self.chunk = bytearray(CHUNK)
        self.view = memoryview(self.chunk)

    def _more(self) -> bool:
        n = self.upstream.readinto(self.view)
        self.upstream.barrier()
        self.ahead, self.at = self.ahead[self.at :] + bytes(self.view[:n]), 0
        return n > 0

    def readinto(self, view) -> int:
        left = len(self.ahead) - self.at
        if left:
            n = min(len(view), left)
            view[:n] = self.ahead[self.at : self.at + n]
            self.at += n
        else:  # (a large read: straight from upstream)
            n = self.upstream.readinto(view)
        self.pos += n
        return n

    def barrier(self) -> None:
        self.upstream.barrier()

    def read(self, n: int) -> bytes:
        """``n`` bytes, fewer only where the archive ends."""
        while len(self.ahead) - self.at < n and self._more():
            pass
        out = self.ahead[self.at : self.at + n]
        self.at += len(out)
        self.pos += len(out)
        return out

    def unread(self, data: bytes) -> None:
        self.ahead, self.at = data + self.ahead[self.at :], 0
        self.pos -= len(data)

    def skip(self, n: int) -> int:
        left = n
        while left:
            if self.at == len(self.ahead) and not self._more():
                break
            k = min(left, len(self.ahead) - self.at)
            self.at += k
            self.pos += k
            left -= k
        return n - left


class _Limited(Reader):
    """The next ``size`` bytes of a source."""

    def __init__(self, source: _Source, size: int) -> None:
        self.source = source
        self.left = size

    def readinto(self, view) -> int:
        if not self.left:
            return 0
        n = self.source.readinto(view[: min(len(view), self.left)])
        self.left -= n
        return n

    def barrier(self) -> None:
        self.source.barrier()


class ZipError(ValueError):
    """The archive cannot be read further in order."""


@dataclass
class ZipEntry:
    name: str
    offset: int  # of its local header, in the archive
    size: int | None  # uncompressed, when the header says it
    reader: Reader | None  # its data; None when it cannot be read, or when it is `stored`
    problem: str | None = None  # why it cannot be read
    stored: bytes | None = None  # a small entry's data as stored, read whole...
    method: int = 0  # ...and how: 0 stored, 8 deflate


@dataclass
class _Met:
    name: bytes
    crc: int
    csize: int


class ZipStream:
    """Iterate over the entries of a zip read from ``upstream`` (positioned at its start;
    ``prefix`` bytes before its first entry).  Each entry's reader must be read before the
    next one is asked for (what is left of it is passed over).  After the iteration: `unmet`
    (entries the directory names that were not met as described), `notes`."""

    def __init__(self, upstream: Reader, what: str, prefix: int = 0) -> None:
        self.src = _Source(upstream)
        self.what = what
        self.met: dict[int, _Met] = {}
        self.unmet: list[str] = []
        self.notes: list[str] = []
        self._entry = None  # (reader, decoder, flags, zip64, offset, name, crc, data start)
        self.scratch = memoryview(bytearray(CHUNK))  # (what is left of an entry, read into)
        self.src.skip(prefix)

    def __iter__(self) -> Iterator[ZipEntry]:
        src = self.src
        while True:
            self._finish_entry()
            at = src.pos
            header = src.read(30)  # (a local header's fixed part, signature included)
            sig = header[:4]
            if len(sig) < 4:
                self.notes.append("ends without a central directory (truncated?)")
                return
            if sig == LOCAL:
                yield self._local(at, header)
            elif sig == DESCRIPTOR and at == 0:
                src.unread(header[4:])
                continue  # a spanned archive's marker, then its first entry
            elif sig in (CENTRAL, END, END64):
                src.unread(header)
                self._directory()
                return
            else:
                self.notes.append(f"malformed at byte {at}; the rest was not read in order")
                self._look_for_directory()
                return

    # -- local entries ---------------------------------------------------------------------
    def _local(self, at: int, header: bytes) -> ZipEntry:
        src = self.src
        if len(header) < 30:
            raise ZipError("truncated local header")
        flags, method, _, _, crc, csize, usize, nlen, elen = _LOCAL.unpack_from(header, 6)
        fields = src.read(nlen + elen)
        name, extra = fields[:nlen], fields[nlen:]
        zip64 = csize == U32 or usize == U32
        if zip64:
            big_usize, big_csize = _zip64(extra, [usize == U32, csize == U32])
            usize = big_usize if big_usize is not None else usize
            csize = big_csize if big_csize is not None else csize
        described = not flags & 8  # sizes in the header, not in a descriptor after the data
        text = name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        start = src.pos
        problem = None
        if flags & 1:
            problem = "encrypted; not read"
        elif method not in METHODS:
            problem = f"compressed with method {method}, which the audit does not read"
        elif method == 0 and not described:
            problem = "stored with its size after its data; its end cannot be found in order"
        if problem is not None:
            if not described:  # (its end is not known: what follows reads as malformed)
                return ZipEntry(text, at, None, None, problem)
            src.skip(csize)
            self.met[at] = _Met(name, crc, csize)
            return ZipEntry(text, at, usize, None, problem)
        if described and method in (0, 8) and csize <= SMALL:
            stored = src.read(csize)
            self.met[at] = _Met(name, crc, csize)
            return ZipEntry(text, at, usize, None, stored=stored, method=method)
        limited = _Limited(src, csize) if described else src
        what = f"{self.what}, entry {text!r}"
        if method == 0:
            decoder = None
            reader: Reader = limited
        else:
            filters = None
            open_ended = False
            if method == 14:  # lzma: a 4-byte header and the filter's properties first
                head = src.read(4)
                props = src.read(_u16(head, 2))
                if described:
                    limited.left -= 4 + len(props)
                filters = [lzma._decode_filter_properties(lzma.FILTER_LZMA1, props)]
                open_ended = not flags & 2  # (no end marker: the data ends with its size)
                if open_ended and not described:
                    return ZipEntry(text, at, None, None, "lzma data of unknown size; not read")
            kind = {8: "deflate", 12: "bzip2", 14: "lzma-raw"}[method]
            decoder = Decompressing(
                limited, what, kind, single=True, open_ended=open_ended, filters=filters
            )
            reader = decoder
        self._entry = (reader, decoder, limited, described, zip64, at, name, crc, csize, start)
        return ZipEntry(text, at, usize if described else None, reader)

    def _finish_entry(self) -> None:
        """Read what is left of the current entry's data, and its descriptor."""
        if self._entry is None:
            return
        reader, decoder, limited, described, zip64, at, name, crc, csize, start = self._entry
        self._entry = None
        src = self.src
        scratch = self.scratch
        try:
            while reader.readinto(scratch):
                reader.barrier()
        except CorruptStream as exc:
            self.notes.append(f"{name.decode('utf-8', 'replace')}: {exc}")
            if not described:
                raise ZipError("an entry of unknown size could not be read to its end") from None
        if described:
            src.skip(limited.left)  # (bytes after the compressed data's end, within its size)
        elif decoder is not None:
            src.unread(decoder.unused)
        used = src.pos - start
        if not described:
            crc, used = self._descriptor(zip64, used)
        self.met[at] = _Met(name, crc, used if not described else csize)

    def _descriptor(self, zip64: bool, used: int) -> tuple[int, int]:
        src = self.src
        head = src.read(4)
        if head != DESCRIPTOR:  # (the signature is optional)
            src.unread(head)
        body = src.read(20 if zip64 else 12)
        crc = _u32(body, 0)
        width = 8 if zip64 else 4
        stated = int.from_bytes(body[4 : 4 + width], "little")
        if stated != used and len(body) == 12 and not zip64:
            # (some writers use 8-byte sizes without a zip64 header field)
            body += src.read(8)
            stated = int.from_bytes(body[4:12], "little")
            if stated != used:
                src.unread(body[12:])
        if stated != used:
            self.notes.append(f"an entry's descriptor says {stated} bytes, its data held {used}")
        return crc, used

    # -- the central directory -------------------------------------------------------------
    def _look_for_directory(self) -> None:
        """After a malformed entry: find the central directory further on, and check it."""
        src = self.src
        keep = b""
        while True:
            chunk = src.read(CHUNK)
            if not chunk:
                self.unmet.append("<the central directory, not found after the entries>")
                return
            data = keep + chunk
            i = data.find(CENTRAL)
            if i >= 0:
                src.unread(data[i:])
                self._directory()
                return
            keep = data[-3:]

    def _directory(self) -> None:
        src = self.src
        start = src.pos
        listed: list[tuple[int, bytes, int, int]] = []  # (recorded offset, name, crc, csize)
        recorded = None  # the directory's offset as the end record states it
        while True:
            sig = src.read(4)
            if sig == CENTRAL:
                fixed = src.read(42)
                if len(fixed) < 42:
                    break
                crc, csize, usize, nlen, elen, clen, offset = _CENTRAL.unpack_from(fixed, 12)
                fields = src.read(nlen + elen + clen)
                name, extra = fields[:nlen], fields[nlen : nlen + elen]
                big = _zip64(extra, [usize == U32, csize == U32, offset == U32])
                csize = big[1] if big[1] is not None else csize
                offset = big[2] if big[2] is not None else offset
                if len(listed) < MAX_ENTRIES:
                    listed.append((offset, name, crc, csize))
            elif sig == END64:
                size = int.from_bytes(src.read(8), "little")
                body = src.read(size)
                if len(body) >= 44:
                    recorded = int.from_bytes(body[36:44], "little")
            elif sig == LOCATOR64:
                src.skip(16)
            elif sig == END:
                fixed = src.read(18)
                if recorded is None and len(fixed) >= 18 and _u32(fixed, 12) != U32:
                    recorded = _u32(fixed, 12)
                src.skip(_u16(fixed, 16))
                break
            else:
                break
        if recorded is None:
            self.unmet.append("<the central directory's end record, not found>")
            return
        shift = start - recorded  # (bytes before the archive, as readers allow for)
        for offset, name, crc, csize in listed:
            met = self.met.get(offset + shift)
            shown = name.decode("utf-8", "replace")
            if met is None:
                self.unmet.append(f"{shown} (listed at byte {offset}, not met in order)")
            elif met.name != name or met.crc != crc or met.csize != csize:
                self.unmet.append(f"{shown} (the directory describes it otherwise)")
        if len(listed) >= MAX_ENTRIES:
            self.unmet.append(f"<entries past the first {MAX_ENTRIES}, not compared>")
