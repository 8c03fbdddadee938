"""Layer compression: told by magic bytes (not by media type), read back as a tar stream.

`open_layer` returns a reader of the uncompressed tar: none, gzip (with the ``isal`` wheel when
it is installed, about twice zlib's speed), zstd (with the ``zstandard`` wheel or Python 3.14's
``compression.zstd``), bzip2 and xz.  Decompressed output is bounded by the caller's
``max_bytes`` (see `image.tar.TarStream`).
"""

from __future__ import annotations

import bz2
import lzma
import zlib

from ..errors import AuditError
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
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(XZ_MAGIC):
        return "xz"
    if head.startswith(BZIP2_MAGIC) and len(head) > 3 and head[3:4] in b"123456789":
        return "bzip2"
    if looks_like_tar(head):
        return "none"
    return None


class _Decompressing(Reader):
    """readinto() over a decompressor object; output never exceeds the caller's view."""

    def __init__(self, upstream, what: str, kind: str) -> None:
        self.upstream = upstream
        self.what = what
        self.kind = kind
        self.inbuf = bytearray(INPUT_CHUNK)
        self.inview = memoryview(self.inbuf)
        self.pending = b""
        self.pending_pos = 0
        self.d = self._new()
        self.data = b""  # compressed input not yet given to the decompressor
        self.finished = False

    def _new(self):
        if self.kind == "gzip":
            return gzip_inflate.decompressobj(31)
        if self.kind == "bzip2":
            return bz2.BZ2Decompressor()
        if self.kind == "xz":
            return lzma.LZMADecompressor()
        return _zstd_module(self.what).ZstdDecompressor()

    def _input(self) -> bytes:
        n = self.upstream.readinto(self.inview)
        if not n:
            return b""
        self.upstream.barrier()  # copied below: the buffer is read into again next time
        return bytes(self.inview[:n])

    def _corrupt(self) -> AuditError:
        return AuditError(
            f"{self.what}: its {self.kind} stream is corrupt; the layer cannot be read. "
            "Save the image again."
        )

    def readinto(self, view) -> int:
        want = len(view)
        while True:
            if self.pending_pos < len(self.pending):
                n = min(want, len(self.pending) - self.pending_pos)
                view[:n] = self.pending[self.pending_pos : self.pending_pos + n]
                self.pending_pos += n
                return n
            if self.finished:
                return 0
            d = self.d
            if d.eof:
                rest = d.unused_data + self.data
                self.data = b""
                if not rest:
                    rest = self._input()
                if not rest.strip(b"\0"):
                    # concatenated members end; trailing zero padding is tolerated
                    if not rest:
                        self.finished = True
                        return 0
                    continue
                self.d = d = self._new()
                self.data = rest
            if self.kind == "gzip":
                data = d.unconsumed_tail or self.data or self._input()
                self.data = b""
                if not data:
                    raise AuditError(
                        f"{self.what}: its gzip stream is truncated. Save the image again."
                    )
                try:
                    out = d.decompress(data, want)
                except (zlib.error, gzip_inflate.error):
                    raise self._corrupt() from None
            else:
                if getattr(d, "needs_input", True):
                    data = self.data or self._input()
                    self.data = b""
                    if not data:
                        raise AuditError(
                            f"{self.what}: its {self.kind} stream is truncated. Save the image "
                            "again."
                        )
                else:
                    data = b""
                try:
                    out = d.decompress(data, want)
                except (OSError, EOFError, ValueError, lzma.LZMAError):
                    raise self._corrupt() from None
                except Exception as exc:  # zstd errors have their own class
                    if type(exc).__name__ in ("ZstdError", "error"):
                        raise self._corrupt() from None
                    raise
            self.pending, self.pending_pos = out, 0


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
            raise AuditError(
                f"{self.what}: its zstd stream is corrupt; the layer cannot be read. Save the "
                "image again."
            ) from None


def _zstd_module(what: str):
    try:
        from compression import zstd  # Python 3.14+

        return zstd
    except ImportError:
        pass
    try:
        import zstandard
    except ImportError:
        raise AuditError(
            f"{what} is compressed with zstd, which this Python cannot read: install the "
            "'zstandard' wheel (pip install zstandard) or use Python 3.14 or later, then run "
            "the audit again."
        ) from None
    return zstandard


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
    if kind == "zstd":
        module = _zstd_module(what)
        if module.__name__ == "zstandard":
            return _ZstdWheelReader(module, upstream, what), kind
    return _Decompressing(upstream, what, kind), kind
