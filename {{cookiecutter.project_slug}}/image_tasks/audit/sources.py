"""Reading a source: every blob classified by its first bytes, hashed and scanned once.

A ``docker save`` piped on stdin may put ``manifest.json`` after the layers, so nothing here
waits for the manifest: each blob (an archive member, or a file of a layout directory) is
classified by its first bytes (JSON documents are kept, they are small; layers are scanned and
only what they yield is kept; anything else is scanned as an opaque file), hashed while it
streams (`scan_blob`), and the image is resolved at the end (`assembly`).

From a plain archive file or a layout directory, blobs of at least ``Limits.parallel_bytes``
are scanned side by side in worker processes (`parallel`), the largest first, each reading its
own byte range of the file (pread); the rest, and any stream that cannot seek (stdin, a
compressed archive), are read here in order.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import parallel
from .archive import TarStream, printable
from .canaries import CanarySet
from .compression import compression_of, open_layer
from .errors import AuditError
from .filescan import FileScan
from .layerscan import LayerResult, LayerScan, scan_pax
from .layouts import link_target
from .matching import Matcher
from .nested import LAYER_FLOOR, Budgets
from .readers import BytesReader, FileReader, Hasher, HashingReader, PeekReader, Reader
from .redaction import Scrubber
from .report import Finding


@dataclass(frozen=True)
class Limits:
    """Bounds that keep hostile input from costing unbounded memory or time."""

    json_bytes: int = 16 << 20  # JSON members larger than this are scanned, not parsed
    layer_ratio: int = 200  # a compressed layer may expand this many times its size...
    layer_floor: int = 8 << 30  # ...or to this many bytes, whichever is larger...
    layer_cap: int = 512 << 30  # ...but never beyond this
    max_members: int = 5_000_000  # per tar stream
    max_blobs: int = 100_000
    max_seconds: float = 3600.0
    # decompressed bytes of nested archives scanned per image: outside package trees, inside
    nested_bytes: int = 64 << 20
    nested_package_bytes: int = 16 << 20
    # blobs at least this large (from a file) are scanned by worker processes, side by side;
    # 0: never (everything is read in this process, in order)
    parallel_bytes: int = 8 << 20
    workers: int = 0  # worker processes; 0: one per core


@dataclass
class Blob:
    """One blob of the source, after its scan."""

    name: str
    size: int
    digest: str = ""
    kind: str = "other"  # layer, json, other
    compression: str | None = None
    result: LayerResult | None = None
    findings: list[Finding] = field(default_factory=list)
    doc: object = None  # the parsed JSON document (kind "json")
    secrets: list[str] = field(default_factory=list)  # what its scan taught the scrubber


@dataclass(frozen=True)
class Settings:
    """What scanning a blob needs, the same in this process and in a worker."""

    canaries: CanarySet
    strict: bool
    limits: Limits
    deadline: float


class BlobScanner:
    """Classifies, hashes and scans blobs (`scan_blob`); owns the audit's hash thread."""

    def __init__(self, settings: Settings, scrub: Scrubber, *, threaded: bool = True) -> None:
        self.settings = settings
        self.limits = settings.limits
        self.scrub = scrub
        self.matcher = Matcher(settings.canaries, scrub, strict=settings.strict)
        self.hasher = Hasher() if threaded else None
        self.progress = None  # a progress.Progress, in this process only

    def close(self) -> None:
        if self.hasher is not None:
            self.hasher.close()

    def scan_blob(
        self, name: str, reader: Reader, size: int, nested: tuple[int, int] | None = None
    ) -> Blob:
        """Classify, hash and scan one blob of ``size`` bytes read from ``reader``; nested
        archives inside it may cost ``nested`` decompressed bytes (outside package trees,
        inside; default: the image's whole budgets)."""
        limits = self.limits
        if nested is None:
            nested = (limits.nested_bytes, limits.nested_package_bytes)
        blob = Blob(name, size)
        known = set(self.scrub.secrets)
        hashing = HashingReader(reader, self.hasher)
        peek = PeekReader(hashing, 1024)
        head = peek.head
        kind = compression_of(head)
        is_layer = (kind is not None and size >= 512) or kind not in (None, "none")
        if is_layer:
            self._layer(blob, peek, nested)
        elif size <= limits.json_bytes and head.lstrip()[:1] in (b"{", b"["):
            self._json_or_file(blob, peek)
        else:
            self._file(blob, peek, size)
        _drain(hashing)
        blob.digest = hashing.hexdigest()
        blob.secrets = sorted(self.scrub.secrets - known)
        return blob

    def _layer(self, blob: Blob, peek: PeekReader, nested: tuple[int, int]) -> None:
        limits = self.limits
        reader, blob.compression = open_layer(peek, f"blob {printable(blob.name)!r}")
        if blob.compression == "none":
            max_bytes = blob.size
        else:
            max_bytes = min(
                limits.layer_cap, max(limits.layer_floor, limits.layer_ratio * blob.size)
            )
        stream = TarStream(
            reader,
            f"layer {printable(blob.name)!r}",
            max_bytes=max_bytes,
            max_members=limits.max_members,
        )
        budgets = Budgets.of(nested)
        scan = LayerScan(self.matcher, blob.name, budgets, deadline=self.settings.deadline)
        if self.progress is not None:
            scan.progress = self.progress.advance
        blob.result = scan.scan(stream)
        if self.progress is not None:
            self.progress.layer_done(blob.size)
        blob.result.notes += budgets.notes()
        blob.kind = "layer"

    def _json_or_file(self, blob: Blob, peek: PeekReader) -> None:
        data = bytearray()
        chunk = bytearray(1 << 16)
        view = memoryview(chunk)
        while n := peek.readinto(view):
            peek.barrier()  # (the chunk is reused)
            data += view[:n]
        try:
            blob.doc = json.loads(bytes(data))
            blob.kind = "json"
        except (ValueError, RecursionError):
            self._file(blob, PeekReader(BytesReader(data), 0), len(data))

    def _file(self, blob: Blob, reader: Reader, size: int) -> None:
        scan = FileScan(self.matcher, blob.name, size, blob.name)
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        while n := reader.readinto(view[: min(len(buf), size)] if size else view):
            scan.feed(buf, 0, n)
            reader.barrier()  # the buffer is read into again
        scan.finish()
        blob.findings = scan.findings + scan.held  # not in a package tree: nothing is held


def _drain(reader: Reader) -> None:
    """Read a blob to its end, so that all of it is hashed."""
    scratch = memoryview(bytearray(1 << 20))
    while True:
        reader.barrier()  # the scratch buffer is reused: its previous hash must be done
        if not reader.readinto(scratch):
            break


@dataclass
class Job:
    """A blob to scan from a byte range of a plain file (in a worker, or here)."""

    path: str
    name: str
    offset: int
    size: int
    nested: tuple[int, int] = (0, 0)


class Collector:
    """Reads a source: blobs, JSON documents and archive-internal links, by member name."""

    def __init__(self, scanner: BlobScanner, limits: Limits) -> None:
        self.scanner = scanner
        self.limits = limits
        self.blobs: dict[str, Blob] = {}
        self.links: dict[str, str] = {}
        self.outer: list[Finding] = []  # from the outer archive's own pax records
        self.unterminated = False
        self.jobs: list[Job] = []
        self.total = 0  # bytes of all blobs (to share the nested-archive budget)

    @property
    def jsons(self) -> dict[str, object]:
        return {k: b.doc for k, b in self.blobs.items() if b.kind == "json"}

    def check_time(self) -> None:
        if time.monotonic() > self.scanner.settings.deadline:
            raise AuditError(
                f"the audit took longer than {self.limits.max_seconds:.0f} s, its time limit; "
                "the source is unusually large or hostile."
            )

    def add(self, blob: Blob) -> None:
        for secret in blob.secrets:
            self.scanner.scrub.add(secret)
        self.blobs[blob.name] = blob

    def share(self, size: int) -> tuple[int, int]:
        """A blob's shares of the nested-archive budgets (outside package trees, inside): by
        size, of the whole source; outside, at least `nested.LAYER_FLOOR`."""
        outside, inside = self.limits.nested_bytes, self.limits.nested_package_bytes
        if not self.total:  # (a stream: the whole budgets, first come, first served)
            return outside, inside
        floor = min(outside, LAYER_FLOOR)
        return max(floor, outside * size // self.total), inside * size // self.total

    # -- archives ----------------------------------------------------------------------------
    def read_archive(self, raw: Reader, what: str, path: str | None = None) -> None:
        """A tar (or compressed tar) read from ``raw``; ``path`` names it when it is a plain
        file (read by a `FileReader`) that workers may read too."""
        peek = PeekReader(raw, 1024)
        kind = compression_of(peek.head)
        if kind is None:
            raise AuditError(
                f"{what} is not a tar archive (nor a compressed one); give a docker-archive, an "
                "OCI archive or layout directory, or an image reference."
            )
        reader, _ = open_layer(peek, what)
        seekable = reader is peek and path is not None and isinstance(raw, FileReader)
        if seekable:
            self.total = os.fstat(raw.fd).st_size
        outer = TarStream(reader, what, max_members=self.limits.max_blobs)
        members = []
        for member in outer:
            self.check_time()
            if member.pax is not None:
                for f in scan_pax(self.scanner.matcher, member, None):
                    f.message += f" (on the archive member {printable(member.name)})"
                    self.outer.append(f)
            if member.kind in ("symlink", "hardlink"):
                hard = member.kind == "hardlink"
                self.links[member.name] = link_target(member.name, member.linkname, hard)
            elif member.kind == "file":
                members.append(member)
                if seekable and 0 < self.limits.parallel_bytes <= member.size:
                    # a worker reads it from the file; the walk seeks past it
                    self.jobs.append(Job(path, member.name, outer.offset, member.size))
                else:
                    self.add(
                        self.scanner.scan_blob(
                            member.name, outer, member.size, self.share(member.size)
                        )
                    )
        if not members and not self.links:
            raise AuditError(f"{what} is an empty tar archive; there is no image in it.")
        self.unterminated = not outer.clean_end

    def _scan_range(self, path: str, name: str, offset: int, size: int) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            reader = FileReader(fd, offset, size)
            self.add(self.scanner.scan_blob(name, reader, size, self.share(size)))
        finally:
            os.close(fd)

    # -- layout directories ------------------------------------------------------------------
    def read_directory(self, root: Path) -> None:
        files = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for filename in sorted(filenames):
                if len(files) + len(self.links) >= self.limits.max_blobs:
                    raise AuditError(
                        f"the layout {root} has more than {self.limits.max_blobs} files."
                    )
                path = Path(dirpath, filename)
                name = path.relative_to(root).as_posix()
                if path.is_symlink():
                    self.links[name] = link_target(name, os.readlink(path), False)
                elif path.is_file():
                    files.append((path, name, path.stat().st_size))
        self.total = sum(size for _, _, size in files)
        for path, name, size in files:
            if 0 < self.limits.parallel_bytes <= size:
                self.jobs.append(Job(str(path), name, 0, size))
                continue
            self.check_time()
            try:
                self._scan_range(str(path), name, 0, size)
            except OSError as exc:
                raise AuditError(
                    f"cannot read {path} ({exc.strerror}); check the layout's permissions."
                ) from None

    def finish_jobs(self) -> None:
        """Scan the deferred blobs: side by side in worker processes, or here in order."""
        for job in self.jobs:
            job.nested = self.share(job.size)
        progress = self.scanner.progress
        if progress is not None:
            progress.total = progress.done + len(self.jobs)
        for blob in parallel.run(self.jobs, self.scanner, self.limits):
            self.add(blob)


class StreamReader(Reader):
    """A `Reader` over a binary file object (standard input)."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def readinto(self, view) -> int:
        return self.stream.readinto(view) or 0


def stdin_reader() -> StreamReader:
    stream = sys.stdin.buffer
    return StreamReader(getattr(stream, "raw", stream))
