"""The streams the audit reads: a `Reader` base, plain files, bytes, hashing and peeking.

* `Reader` is what every stream here is: ``readinto(view)``, plus ``barrier()`` (wait until
  the buffers handed to ``readinto`` may be reused: a no-op unless a hash runs behind),
  ``mark()``/``settle(mark)`` for callers that keep several buffers in flight (the tar
  reader's ring), and ``skip(n)`` (a seek where the stream is a plain file; 0 elsewhere: the
  caller reads instead).
* `HashingReader` counts and sha256-hashes a blob while it is read; the hashing runs on the
  audit's `Hasher` thread (hashlib releases the GIL) so that it overlaps with scanning.
"""

from __future__ import annotations

import collections
import hashlib
import os
import queue
import sys
import threading

from ..errors import AuditError, Stopped

ASYNC_HASH_MIN = 1 << 16
INPUT_CHUNK = 1 << 16


class Reader:
    """A byte stream read with ``readinto``; the defaults suit a stream that hashes nothing."""

    def readinto(self, view) -> int:
        raise NotImplementedError

    def barrier(self) -> None:
        """Wait until every buffer handed to ``readinto`` so far may be reused."""

    def mark(self) -> int:
        """A mark for `settle`: what was handed out so far."""
        return 0

    def settle(self, mark: int) -> None:
        """Wait until the buffers handed out up to ``mark`` may be reused."""

    def skip(self, n: int) -> int:
        """Move up to ``n`` bytes forward without reading them; how many were skipped."""
        return 0

    def read(self, size: int = -1) -> bytes:
        """At most ``size`` bytes (a chunk when size < 0), for decompressors that want it."""
        size = INPUT_CHUNK if size is None or size < 0 else size
        out = bytearray(size)
        n = self.readinto(memoryview(out))
        self.barrier()
        return bytes(out[:n])


class HashTap:
    """A tap (`tar.TarStream`) that sha256-hashes every byte of a stream: a compressed layer's
    uncompressed bytes, for its diff_id."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()

    def feed(self, buf, s: int, e: int) -> None:
        with memoryview(buf) as view:
            self.sha256.update(view[s:e])

    def skip(self, n: int) -> None:
        raise ValueError("a hashed stream cannot skip bytes")


class TapReader(Reader):
    """Hand every byte read from ``upstream`` to a tap (``feed(data, start, end)``) too: a
    compressed blob's bytes as stored, to a canary plane."""

    def __init__(self, upstream: Reader, tap) -> None:
        self.upstream = upstream
        self.tap = tap

    def readinto(self, view) -> int:
        n = self.upstream.readinto(view)
        if n:
            self.tap.feed(bytes(view[:n]), 0, n)
        return n

    def barrier(self) -> None:
        self.upstream.barrier()


class FileReader(Reader):
    """A plain file descriptor, from ``offset`` for ``size`` bytes (pread: no shared file
    offset, so processes can read one archive side by side); None: to its end, sequentially."""

    def __init__(self, fd: int, offset: int | None = None, size: int | None = None) -> None:
        self.fd = fd
        self.offset = offset
        self.left = size

    def readinto(self, view) -> int:
        n = len(view) if self.left is None else min(len(view), self.left)
        if n <= 0:
            return 0
        if self.offset is None:
            k = os.readv(self.fd, [view[:n]])
        else:
            k = os.preadv(self.fd, [view[:n]], self.offset)
            self.offset += k
        if self.left is not None:
            self.left -= k
        return k

    def skip(self, n: int) -> int:
        if self.offset is not None or self.left is not None:
            return 0
        try:
            os.lseek(self.fd, n, os.SEEK_CUR)
        except OSError:  # a pipe: read instead
            return 0
        return n


class BytesReader(Reader):
    """A reader over bytes already in memory."""

    def __init__(self, data) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def readinto(self, view) -> int:
        n = min(len(view), len(self.data) - self.pos)
        view[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


class Hasher:
    """One daemon thread that runs ``sha256.update`` on buffers handed to it, owned by one
    audit (started on first use, stopped by `close`).

    hashlib releases the GIL while it hashes, so this overlaps with the scanning done on the
    calling thread.  A plain queue and a lock per job keep the hand-off cheap.
    """

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.thread: threading.Thread | None = None

    def _loop(self) -> None:
        while (job := self.jobs.get()) is not None:
            update, view, done = job
            try:
                update(view)
            finally:
                view.release()
                done.release()

    def submit(self, update, view) -> threading.Lock:
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, name="audit-sha256", daemon=True)
            self.thread.start()
        done = threading.Lock()
        done.acquire()
        self.jobs.put((update, view, done))
        return done

    def close(self) -> None:
        if self.thread is not None:
            self.jobs.put(None)
            self.thread.join()
            self.thread = None


class HashingReader(Reader):
    """Wrap ``upstream`` and sha256 what passes through, on ``hasher``'s thread (inline when
    ``hasher`` is None)."""

    def __init__(self, upstream: Reader, hasher: Hasher | None) -> None:
        self.upstream = upstream
        self.hasher = hasher
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._pending: collections.deque = collections.deque()
        self._submitted = 0  # hash jobs handed to the thread so far
        self._done = 0  # of those, how many are known to be finished (they finish in order)

    def mark(self) -> int:
        return self._submitted

    def _wait_one(self) -> None:
        self._pending.popleft().acquire()
        self._done += 1

    def barrier(self) -> None:
        while self._pending:
            self._wait_one()

    def settle(self, mark: int) -> None:
        while self._done < mark and self._pending:
            self._wait_one()

    def readinto(self, view) -> int:
        n = self.upstream.readinto(view)
        if n:
            self.size += n
            pending = self._pending
            if self.hasher is not None and (n >= ASYNC_HASH_MIN or pending):
                # (never let a small inline update overtake the queued ones)
                pending.append(self.hasher.submit(self.sha256.update, view[:n]))
                self._submitted += 1
            else:
                self.sha256.update(view[:n])
        return n

    def hexdigest(self) -> str:
        self.barrier()
        return self.sha256.hexdigest()


class PeekReader(Reader):
    """Let a caller look at the first bytes of a stream without consuming them."""

    def __init__(self, upstream: Reader, size: int = 1024) -> None:
        self.upstream = upstream
        head = bytearray(size)
        got = 0
        view = memoryview(head)
        # a stream that fails within its head (corrupt, truncated, stopped by a bound): what
        # came before the failure is its head, and the failure is raised after it is read
        self._failed: Exception | None = None
        try:
            while got < size:
                n = upstream.readinto(view[got:])
                if not n:
                    break
                got += n
        except (AuditError, Stopped) as exc:
            self._failed = exc
        upstream.barrier()  # the peeked bytes are copied: the upstream may hash them behind
        self.head = bytes(head[:got])
        self._offset = 0

    def barrier(self) -> None:
        self.upstream.barrier()

    def mark(self) -> int:
        return self.upstream.mark()

    def settle(self, mark: int) -> None:
        self.upstream.settle(mark)

    def skip(self, n: int) -> int:
        if self._offset < len(self.head) or self._failed is not None:
            return 0  # (the caller reads instead)
        return self.upstream.skip(n)

    def readinto(self, view) -> int:
        if self._offset < len(self.head):
            n = min(len(view), len(self.head) - self._offset)
            view[:n] = self.head[self._offset : self._offset + n]
            self._offset += n
            return n
        if self._failed is not None:
            raise self._failed
        return self.upstream.readinto(view)


class StreamReader(Reader):
    """A `Reader` over a binary file object (standard input)."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def readinto(self, view) -> int:
        return self.stream.readinto(view) or 0


def stdin_reader() -> StreamReader:
    stream = sys.stdin.buffer
    return StreamReader(getattr(stream, "raw", stream))
