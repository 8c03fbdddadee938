"""Large blobs scanned side by side in worker processes, one per core.

``bytes.find`` and ``re`` hold the GIL, so threads cannot spread the scanning of layers over
cores; processes can.  Each worker is forked with the audit's `blobs.ScanContext` (canaries,
policy, limits, deadline), opens the file itself, reads its blob's byte range with pread, and sends
back the small `blobs.Blob` (digest, findings, deletions, records; never the bytes).  The
largest blobs go first, so that the last one to finish is a small one.  An error in a worker
is the audit's error, raised here as if this process had met it.  With one job or one core,
or ``Limits.workers == 1``, the jobs run here, in order, with the same results.

Workers never outlive the audit: Ctrl-C is the parent's to handle (it ends the pool, which
stops them), SIGTERM kills a worker at once (no handler, no traceback), and on Linux each one
asks the kernel to kill it the moment its parent dies, however the parent died.
"""

from __future__ import annotations

import multiprocessing
import os
import signal

from ..detect.redaction import Scrubber
from ..errors import AuditError
from ..image.readers import FileReader

_worker = None  # the worker process's blobs.BlobScanner


def run(jobs, scanner, limits):
    """The scanned blob of each job, in the order they finish."""
    if not jobs:
        return
    jobs = sorted(jobs, key=lambda job: job.size, reverse=True)
    workers = min(len(jobs), limits.workers or os.cpu_count() or 1)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        for job in jobs:
            yield _scan(scanner, job)
        return
    scanner.close()  # its hash thread: forking a process that runs threads is not safe
    context = multiprocessing.get_context("fork")
    initargs = (type(scanner), scanner.context, os.getpid())
    pool = context.Pool(workers, initializer=_start, initargs=initargs)
    try:
        for blob in pool.imap_unordered(_work, jobs):
            if scanner.progress is not None and blob.kind == "layer":
                scanner.progress.layer_done(blob.size)  # (a worker shows no progress)
            yield blob
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def _start(scanner_class, context, parent: int) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # (not the parent's handler, if it has one)
    _die_with(parent)
    # no hash thread: with a worker per core, it only takes turns with the other workers
    # (measured: see benchmarks/audit_benchmark.py --ablations, no-hash-thread)
    _worker = scanner_class(context, Scrubber(), threaded=False)


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux's PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # (not Linux: the parent's ending of the pool stops it)
        pass
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def _work(job):
    return _scan(_worker, job)


def _scan(scanner, job):
    try:
        fd = os.open(job.path, os.O_RDONLY)
    except OSError as exc:
        raise AuditError(f"cannot read {job.path!r} ({exc.strerror}).") from None
    try:
        reader = FileReader(fd, job.offset, job.size)
        return scanner.scan_blob(job.name, reader, job.size)
    finally:
        os.close(fd)
