"""Unix ``compress`` (``.Z``): LZW, read as a stream (what ``gzip -d`` and ``uncompress`` read).

The format: ``1f 9d``, a byte of flags (the largest code width, 9 to 16 bits; block mode),
then codes, least significant bit first, written in groups of eight codes (a group of
``width`` bytes); when the width grows, or a CLEAR code (256, in block mode) empties the
table, the rest of the group is padding.  The stream ends with its input.  Output never exceeds
the caller's view: a string of the table is held back until it is asked for.
"""

from __future__ import annotations

from array import array

from ..errors import CorruptStream
from .readers import INPUT_CHUNK, Reader

MAGIC = b"\x1f\x9d"
CLEAR = 256


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
        if not 9 <= self.maxbits <= 16:
            raise self._corrupt(f"its header says {self.maxbits}-bit codes")
        self.block = bool(head[2] & 0x80)
        self.width = 9
        self.free = 257 if self.block else 256
        # the table as prefixes and last bytes (a code's string: its prefix's, then its byte):
        # memory stays two arrays whatever the strings' lengths
        self.prefix = array("H", bytes(2 << 16))
        self.suffix = bytearray(range(256)) + bytearray((1 << 16) - 256)
        self.old = -1
        self.first = 0  # the first byte of the previous code's string
        self.pending = b""

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
            group = self._take(self.width)
            if not group:
                return 0
            self._group(group)
        n = min(len(view), len(self.pending))
        view[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def _string(self, code: int) -> bytearray:
        out = bytearray()
        prefix, suffix = self.prefix, self.suffix
        while code >= 256:
            out.append(suffix[code])
            code = prefix[code]
        out.append(code)
        out.reverse()
        return out

    def _group(self, group: bytes) -> None:
        """Decode a group of (up to) eight codes; the rest of it is padding when the width
        changes or the table is cleared."""
        width = self.width
        bits = int.from_bytes(group, "little")
        mask = (1 << width) - 1
        out = bytearray()
        for i in range(len(group) * 8 // width):
            code = (bits >> (i * width)) & mask
            if self.old < 0:  # the first code: a byte
                if code > 255:
                    raise self._corrupt("a first code past 255")
                self.old = self.first = code
                out.append(code)
                continue
            if code == CLEAR and self.block:
                self.free, self.width = 256, 9
                break
            if code < self.free:
                entry = self._string(code)
            elif code == self.free:  # the string being defined by this very code
                entry = self._string(self.old) + bytes([self.first])
            else:
                raise self._corrupt("a code not yet defined")
            out += entry
            if self.free < 1 << self.maxbits:
                self.prefix[self.free] = self.old
                self.suffix[self.free] = entry[0]
                self.free += 1
            self.old, self.first = code, entry[0]
            if self.free > (1 << self.width) - 1 and self.width < self.maxbits:
                self.width += 1
                break
        self.pending = bytes(out)
