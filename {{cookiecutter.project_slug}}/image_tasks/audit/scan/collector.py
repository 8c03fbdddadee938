"""Reading a source into blobs: the members of an archive or the files of a layout directory,
each scanned once (`blobs.BlobScanner`), with the archive's own links and pax records.

A ``docker save`` piped on stdin may put ``manifest.json`` after the layers, so nothing here
waits for the manifest: each blob is classified by its first bytes as it comes, and the image
is resolved at the end (`assembly`).

From a plain archive file or a layout directory, blobs of at least ``Limits.parallel_bytes``
are scanned side by side in worker processes (`parallel`), the largest first, each reading its
own byte range of the file (pread); the rest, and any stream that cannot seek (stdin, a
compressed archive), are read here in order.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import AuditError
from ..findings import Finding
from ..image.compression import compression_of, open_layer
from ..image.layouts import link_target
from ..image.readers import FileReader, PeekReader, Reader
from ..image.tar import TarStream, printable
from . import parallel
from .blobs import Blob, BlobScanner
from .layer import scan_pax
from .limits import Limits
from .nested import LAYER_FLOOR


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
        if time.monotonic() > self.scanner.context.deadline:
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
