"""Unix ``compress`` (``.Z``): LZW, read as a stream, as ``gzip -d`` and ``uncompress`` read it.

The format: ``1f 9d``, a byte of flags (the largest code width, ``maxbits``; block mode),
then codes, least significant bit first, written in groups of eight codes (a group of
``width`` bytes).  Codes start 9 bits wide and widen as the table fills, up to ``maxbits``;
when the width grows, or a CLEAR code (256, in block mode) empties the table, the rest of the
group is padding.  The stream ends with its input.

Two headers are read as gzip reads them, since that is what recovers their bytes: a width
below 9 (9-bit codes, a table that never grows), and a width of 9 until its table fills.
Past that point readers disagree (gzip and compress 4.1 read 10-bit codes, ncompress 5 keeps
9, ncompress 4.2 writes neither), so reading stops there: `Stopped`, a gap.  A corrupt code
raises `CorruptStream` once the output decoded before it has been read.
"""

from __future__ import annotations

from array import array

from ..errors import CorruptStream, Stopped
from .readers import INPUT_CHUNK, Reader

MAGIC = b"\x1f\x9d"
CLEAR = 256
CACHE = 8 << 20  # bytes of the table's strings kept whole (`LzwReader._keep`)
MAX_BITS = 16  # (gzip and ncompress refuse wider codes)
FORGOTTEN = [None] * ((1 << MAX_BITS) - 256)


class LzwReader(Reader):
    """The decompressed bytes of a ``compress`` stream read from ``upstream``."""

    def __init__(self, upstream: Reader, what: str) -> None:
        self.upstream = upstream
        self.what = what
        self.inbuf = bytearray(INPUT_CHUNK)
        self.data = b""  # input not yet decoded
        self.at = 0
        self.ended = False  # the input ended
        head = self._take(3)
        if len(head) < 3 or head[:2] != MAGIC:
            raise self._corrupt("its header is missing")
        self.maxbits = head[2] & 0x1F
        if self.maxbits > MAX_BITS:
            raise self._corrupt(f"its header says {self.maxbits}-bit codes")
        self.block = bool(head[2] & 0x80)
        self.width = 9
        self.free = 257 if self.block else 256  # the next code the table defines
        # the table as prefixes and last bytes (a code's string: its prefix's, then its byte),
        # and the strings of the codes in use, whole, up to CACHE bytes (most strings are a few
        # bytes; a bomb's are long, and are forgotten and built again from the table)
        self.prefix = array("H", bytes(2 << MAX_BITS))
        self.suffix = bytearray(range(256)) + bytearray((1 << MAX_BITS) - 256)
        self.strings: list[bytes | None] = [bytes([c]) for c in range(256)]
        self.strings += FORGOTTEN
        self.kept = 0  # bytes in strings
        self.old = -1  # the previous code, and its string:
        self.prev = b""
        self.pending = b""  # output decoded, not yet read
        self.failed: CorruptStream | None = None  # raised once pending is read

    def _corrupt(self, why: str) -> CorruptStream:
        return CorruptStream(f"{self.what}: its compress stream is corrupt ({why}).")

    def _take(self, n: int) -> bytes:
        """``n`` input bytes (fewer only where the input ends)."""
        while len(self.data) - self.at < n and not self.ended:
            k = self.upstream.readinto(memoryview(self.inbuf))
            self.upstream.barrier()
            if not k:
                self.ended = True
                break
            self.data = self.data[self.at :] + bytes(self.inbuf[:k])
            self.at = 0
        out = self.data[self.at : self.at + n]
        self.at += len(out)
        return out

    def readinto(self, view) -> int:
        while not self.pending:
            if self.failed is not None:
                raise self.failed
            group = self._take(self.width)
            if len(group) * 8 < self.width:  # not one whole code left: the end
                return 0
            if self.width > max(self.maxbits, 9):  # (a 9-bit table filled: see above)
                raise Stopped(
                    "a compress stream of 9-bit codes that goes on past its full table, "
                    "which readers read differently (gzip: 10-bit codes, ncompress 5: 9-bit); "
                    "not read past that point"
                )
            self._group(group)
        n = min(len(view), len(self.pending))
        view[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def _string(self, code: int) -> bytes:
        """A code's string not kept whole: its last bytes from the table, back to a kept one."""
        tail = bytearray()
        prefix, suffix, strings = self.prefix, self.suffix, self.strings
        at = code
        while (kept := strings[at]) is None:
            tail.append(suffix[at])
            at = prefix[at]
        tail.reverse()
        return self._keep(code, kept + tail)

    def _keep(self, code: int, string: bytes) -> bytes:
        """Keep ``string`` as ``code``'s (past CACHE bytes, the others are forgotten first)."""
        strings = self.strings
        stale = strings[code]  # (defined before a CLEAR)
        if stale is not None:
            self.kept -= len(stale)
        if self.kept >= CACHE:  # (long strings, a bomb's: those used from now on are kept)
            strings[256:] = FORGOTTEN
            self.kept = 0
        strings[code] = string
        self.kept += len(string)
        return string

    def _define(self, entry: bytes) -> None:
        """The next code: the previous code's string and the first byte of ``entry``."""
        free = self.free
        self.prefix[free] = self.old
        self.suffix[free] = entry[0]
        self._keep(free, self.prev + entry[:1])
        self.free = free + 1

    def _group(self, group: bytes) -> None:
        """Decode a group of (up to) eight codes into ``pending``."""
        width = self.width
        bits = int.from_bytes(group, "little")
        mask = (1 << width) - 1
        out = bytearray()
        for i in range(len(group) * 8 // width):
            code = (bits >> (i * width)) & mask
            if self.old < 0:  # the first code: a byte
                if code > 255:
                    self.failed = self._corrupt("a first code past 255")
                    break
                self.old, self.prev = code, self.strings[code]
                out += self.prev
                continue
            if code == CLEAR and self.block:  # (the code after it still defines 256, unused)
                self.free, self.width = 256, 9
                break
            if code < self.free:
                entry = self.strings[code] or self._string(code)
            elif code == self.free:  # the string being defined by this very code
                entry = self.prev + self.prev[:1]
            else:
                self.failed = self._corrupt("a code not yet defined")
                break
            out += entry
            if self.free < 1 << self.maxbits:
                self._define(entry)
            self.old, self.prev = code, entry
            if self.free >> self.width and self.width < max(self.maxbits, 10):
                self.width += 1  # the table outgrew the width
                break
        self.pending = bytes(out)
