"""Byte streams under the tar reader: hashing, peeking and decompressing, all bounded.

* `HashingReader` counts and sha256-hashes a blob while it is read; the hashing runs on a
  worker thread (hashlib releases the GIL) so that it overlaps with scanning.  Before its
  caller reuses a buffer it calls ``barrier()``, which waits for the hash of that buffer.
* `open_layer` detects the compression of a layer by its magic bytes (not by media type)
  and returns a reader of the uncompressed tar: none, gzip, zstd (with the ``zstandard``
  wheel or Python 3.14's ``compression.zstd``), bzip2 and xz.
* Decompressed output is bounded by the caller's ``max_bytes`` (see `TarStream`).
"""

from __future__ import annotations

import bz2
import collections
import hashlib
import lzma
import queue
import threading
import zlib

from .errors import AuditError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
ASYNC_HASH_MIN = 1 << 16
INPUT_CHUNK = 1 << 16


class _Hasher:
    """One daemon thread that runs ``sha256.update`` on buffers handed to it.

    hashlib releases the GIL while it hashes, so this overlaps with the scanning done on the
    main thread.  A plain queue and a semaphore keep the hand-off cheap.
    """

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name="audit-sha256", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            update, view, done = self.jobs.get()
            try:
                update(view)
            finally:
                view.release()
                done.release()

    def submit(self, update, view) -> threading.Lock:
        done = threading.Lock()
        done.acquire()
        self.jobs.put((update, view, done))
        return done


_hasher: _Hasher | None = None
_hasher_lock = threading.Lock()


def _hash_thread() -> _Hasher:
    global _hasher
    with _hasher_lock:
        if _hasher is None:
            _hasher = _Hasher()
        return _hasher


class HashingReader:
    """Wrap ``upstream`` (``readinto``) and sha256 what passes through, off the main thread."""

    def __init__(self, upstream) -> None:
        self.upstream = upstream
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._pending: collections.deque = collections.deque()
        self.keep: int | None = 0  # hash jobs that may still run when the next read starts
        self.submitted = 0  # hash jobs handed to the worker so far
        self._done = 0  # of those, how many are known to be finished (they finish in order)

    def allow_pending(self, jobs: int | None) -> None:
        """Let ``jobs`` hash jobs run while the next read starts; None: any number, for a
        caller that never reads into a buffer still being hashed (the `TarStream` ring, which
        notes `hash_jobs` after filling a buffer and calls ``settle(mark)`` before reusing it).
        """
        self.keep = jobs

    def hash_jobs(self) -> int:
        """How many hash jobs were submitted so far (a mark for `settle`)."""
        return self.submitted

    def _wait_one(self) -> None:
        self._pending.popleft().acquire()
        self._done += 1

    def barrier(self) -> None:
        while self._pending:
            self._wait_one()

    def settle(self, upto: int | None = None) -> None:
        """Wait until the first ``upto`` hash jobs are done; without ``upto``, until at most
        ``keep`` jobs are running."""
        pending = self._pending
        if upto is not None:
            while self._done < upto and pending:
                self._wait_one()
            return
        keep = self.keep or 0
        while len(pending) > keep:
            self._wait_one()

    def readinto(self, view) -> int:
        pending = self._pending
        keep = self.keep
        if keep is not None:
            while len(pending) > keep:
                self._wait_one()
        n = self.upstream.readinto(view)
        if n:
            self.size += n
            if n >= ASYNC_HASH_MIN or pending:  # never let a small update overtake
                pending.append(_hash_thread().submit(self.sha256.update, view[:n]))
                self.submitted += 1
            else:
                self.sha256.update(view[:n])
        return n

    def read(self, size: int = -1) -> bytes:
        return _read(self, size)

    def hexdigest(self) -> str:
        self.barrier()
        return self.sha256.hexdigest()


class PeekReader:
    """Let a caller look at the first bytes of a stream without consuming them."""

    def __init__(self, upstream, size: int = 1024) -> None:
        self.upstream = upstream
        head = bytearray(size)
        got = 0
        view = memoryview(head)
        while got < size:
            n = upstream.readinto(view[got:])
            if not n:
                break
            got += n
        # the peeked bytes are copied: the upstream may hash them asynchronously
        barrier = getattr(upstream, "barrier", None)
        if barrier is not None:
            barrier()
        self.head = bytes(head[:got])
        self._offset = 0

    def barrier(self) -> None:
        barrier = getattr(self.upstream, "barrier", None)
        if barrier is not None:
            barrier()

    def allow_pending(self, jobs: int | None) -> None:
        allow = getattr(self.upstream, "allow_pending", None)
        if allow is not None:
            allow(jobs)

    def settle(self, upto: int | None = None) -> None:
        settle = getattr(self.upstream, "settle", None)
        if settle is not None:
            settle(upto)

    def hash_jobs(self) -> int:
        jobs = getattr(self.upstream, "hash_jobs", None)
        return jobs() if jobs is not None else 0

    def readinto(self, view) -> int:
        if self._offset < len(self.head):
            n = min(len(view), len(self.head) - self._offset)
            view[:n] = self.head[self._offset : self._offset + n]
            self._offset += n
            return n
        return self.upstream.readinto(view)

    def read(self, size: int = -1) -> bytes:
        return _read(self, size)


def _read(reader, size: int) -> bytes:
    """read() for the readinto-based readers: at most size bytes (a chunk when size < 0)."""
    size = INPUT_CHUNK if size is None or size < 0 else size
    out = bytearray(size)
    n = reader.readinto(memoryview(out))
    reader.barrier()
    return bytes(out[:n])


def looks_like_tar(head: bytes) -> bool:
    if len(head) < 512:
        return head == bytes(len(head)) and len(head) > 0
    block = head[:512]
    if block == bytes(512):
        return True
    if block[257:262] == b"ustar":
        return True
    try:
        stored = int(block[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    return stored == sum(block) - sum(block[148:156]) + 256


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


class _Decompressing:
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

    def barrier(self) -> None:
        barrier = getattr(self.upstream, "barrier", None)
        if barrier is not None:
            barrier()

    def _new(self):
        if self.kind == "gzip":
            return zlib.decompressobj(31)
        if self.kind == "bzip2":
            return bz2.BZ2Decompressor()
        if self.kind == "xz":
            return lzma.LZMADecompressor()
        return _zstd_module(self.what).ZstdDecompressor()

    def _input(self) -> bytes:
        n = self.upstream.readinto(self.inview)
        if not n:
            return b""
        self.barrier()
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
                except zlib.error:
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


class _ZstdWheelReader:
    """readinto() over the ``zstandard`` wheel's stream reader (output bounded per call)."""

    def __init__(self, zstandard, upstream, what: str) -> None:
        self.error = zstandard.ZstdError
        self.what = what
        self.upstream = upstream
        self.reader = zstandard.ZstdDecompressor(max_window_size=1 << 27).stream_reader(
            upstream, read_size=INPUT_CHUNK, read_across_frames=True
        )

    def barrier(self) -> None:
        barrier = getattr(self.upstream, "barrier", None)
        if barrier is not None:
            barrier()

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
