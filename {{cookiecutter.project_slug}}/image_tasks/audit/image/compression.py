"""Compression: told by magic bytes (not by media type or name), read back as a stream.

`open_layer` returns a reader of a layer's uncompressed tar: none, gzip (with the ``isal`` wheel
when it is installed, about twice zlib's speed), zstd (with the ``zstandard`` wheel or Python
3.14's ``compression.zstd``), bzip2 and xz; `decompressed` reads unix ``compress`` too
(`lzw`).  `Decompressing` is the one decompressor of the audit: layers, compressed files
inside them, and a zip member's deflate, bzip2 or lzma data (``single``: one stream, and what
was read past its end is handed back).  Output never exceeds the caller's view, so a bomb
costs no memory; the caller bounds how much it reads.
"""

from __future__ import annotations

import bz2
import lzma
import zlib

from ..errors import AuditError, CorruptStream, NoDecoder
from .lzw import LzwReader
from .readers import INPUT_CHUNK, PeekReader, Reader
from .tar import checksum_ok

try:  # optional: ISA-L's inflate, same API as zlib's
    from isal import isal_zlib as gzip_inflate
except ImportError:
    gzip_inflate = zlib

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
ZLIB_LIKE = ("gzip", "deflate")  # (zlib's decompressobj: input left over in unconsumed_tail)


def looks_like_tar(head: bytes) -> bool:
    if len(head) < 512:
        return head == bytes(len(head)) and len(head) > 0
    block = head[:512]
    if block == bytes(512):
        return True
    if block[257:262] == b"ustar":
        return True
    return checksum_ok(block)


def compression_of(head: bytes) -> str | None:
    """'none', 'gzip', 'zstd', 'bzip2', 'xz', or None when the bytes are not a layer."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC) or is_zstd_skippable(head):
        return "zstd"
    if head.startswith(XZ_MAGIC):
        return "xz"
    if head.startswith(BZIP2_MAGIC) and len(head) > 3 and head[3:4] in b"123456789":
        return "bzip2"
    if looks_like_tar(head):
        return "none"
    return None


def is_zstd_skippable(head: bytes) -> bool:
    """A zstd skippable frame (magic 0x184D2A5?), which may open a zstd stream."""
    return len(head) >= 8 and 0x50 <= head[0] <= 0x5F and head[1:4] == b"\x2a\x4d\x18"


class Decompressing(Reader):
    """The decompressed bytes of ``upstream`` (``kind``: gzip, deflate, bzip2, xz, zstd, or
    lzma-raw with ``filters``).

    Concatenated streams are read one after the other (zero bytes between or after them are
    tolerated), unless ``single``: then reading stops at the end of the first, and `unused`
    holds what was read past it.  ``open_ended``: the stream may end without an end marker
    when the input ends (a zip member's lzma data without one).  A corrupt or truncated stream
    raises `CorruptStream` (its message names ``what``)."""

    def __init__(
        self, upstream: Reader, what: str, kind: str, *, single=False, open_ended=False,
        filters=None,
    ) -> None:  # fmt: skip
        self.upstream = upstream
        self.what = what
        self.kind = kind
        self.single = single
        self.open_ended = open_ended
        self.filters = filters
        self.inbuf = bytearray(INPUT_CHUNK)
        self.inview = memoryview(self.inbuf)
        self.data = b""  # input read but not yet given to the decompressor
        self.unused = b""
        self.done = False
        self.failed: CorruptStream | None = None  # (raised again if asked again)
        self.d = self._new()

    def _new(self):
        kind = self.kind
        if kind == "gzip":
            return gzip_inflate.decompressobj(31)
        if kind == "deflate":
            return gzip_inflate.decompressobj(-15)
        if kind == "bzip2":
            return bz2.BZ2Decompressor()
        if kind == "xz":
            return lzma.LZMADecompressor()
        if kind == "lzma-raw":
            return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=self.filters)
        return zstd_module(self.what).ZstdDecompressor()

    def _input(self) -> bytes:
        n = self.upstream.readinto(self.inview)
        if not n:
            return b""
        self.upstream.barrier()  # copied below: the buffer is read into again next time
        return bytes(self.inview[:n])

    def _fail(self, what: str) -> CorruptStream:
        self.failed = CorruptStream(
            f"{self.what}: its {self.kind} stream is {what}; it cannot be read to its end."
        )
        return self.failed

    def readinto(self, view) -> int:
        if self.failed is not None:
            raise self.failed
        want = len(view)
        while not self.done:
            d = self.d
            if d.eof:
                rest = d.unused_data + self.data
                self.data = b""
                if self.single:
                    self.unused, self.done = rest, True
                    return 0
                rest = rest.lstrip(b"\0")
                while not rest:  # after a stream: another one, zero padding, or the end
                    more = self._input()
                    if not more:
                        self.done = True
                        return 0
                    rest = more.lstrip(b"\0")
                self.d, self.data = self._new(), rest
                continue
            # (with no input left, zlib may still hold output back, and so may the others
            # when they say they need no input: they are asked again with none)
            if self.kind in ZLIB_LIKE:
                data = d.unconsumed_tail or self.data or self._input()
            elif getattr(d, "needs_input", True):
                data = self.data or self._input()
                if not data:
                    return self._ended()
            else:
                data = b""
            self.data = b""
            try:
                out = d.decompress(data, want)
            except (zlib.error, gzip_inflate.error, OSError, EOFError, ValueError, lzma.LZMAError):
                raise self._fail("corrupt") from None
            except Exception as exc:  # zstd's errors have their own class
                if type(exc).__name__ in ("ZstdError", "error"):
                    raise self._fail("corrupt") from None
                raise
            if out:
                view[: len(out)] = out
                return len(out)
            if not data and not d.eof:  # (zlib: no input left, and no output held back)
                return self._ended()
        return 0

    def _ended(self) -> int:
        """The input ended before the stream did."""
        if not self.open_ended:
            raise self._fail("truncated")
        self.done = True
        return 0


class _ZstdWheelReader(Reader):
    """readinto() over the ``zstandard`` wheel's stream reader (output bounded per call)."""

    def __init__(self, zstandard, upstream, what: str) -> None:
        self.error = zstandard.ZstdError
        self.what = what
        self.upstream = upstream
        self.reader = zstandard.ZstdDecompressor(max_window_size=1 << 27).stream_reader(
            upstream, read_size=INPUT_CHUNK, read_across_frames=True
        )

    def readinto(self, view) -> int:
        try:
            return self.reader.readinto(view)
        except self.error:
            raise CorruptStream(
                f"{self.what}: its zstd stream is corrupt; it cannot be read to its end."
            ) from None


def zstd_module(what: str):
    try:
        from compression import zstd  # Python 3.14+

        return zstd
    except ImportError:
        pass
    try:
        import zstandard
    except ImportError:
        raise NoDecoder(
            f"{what} is compressed with zstd, which this Python cannot read: install the "
            "'zstandard' wheel (pip install zstandard) or use Python 3.14 or later, then run "
            "the audit again."
        ) from None
    return zstandard


def decompressed(upstream: Reader, what: str, kind: str) -> Reader:
    """The decompressed bytes of a whole stream of ``kind`` (gzip, zstd, bzip2, xz, or
    compress: `lzw`)."""
    if kind == "compress":
        return LzwReader(upstream, what)
    if kind == "zstd":
        module = zstd_module(what)
        if module.__name__ == "zstandard":
            return _ZstdWheelReader(module, upstream, what)
    return Decompressing(upstream, what, kind)


def open_layer(upstream: PeekReader, what: str):
    """Return ``(reader, compression)`` for a layer whose first bytes are peeked."""
    kind = compression_of(upstream.head)
    if kind is None:
        raise AuditError(
            f"{what} is neither a tar nor a gzip, zstd, bzip2 or xz stream; the archive is "
            "corrupt or not an image. Save the image again."
        )
    if kind == "none":
        return upstream, kind
    return decompressed(upstream, what, kind), kind
