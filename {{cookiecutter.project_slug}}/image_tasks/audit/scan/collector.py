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

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..detect.stream_search import StreamSearch, plane_findings
from ..errors import AuditError, CorruptStream, OutOfTime, Stopped
from ..findings import Finding, Gap
from ..image.compression import compression_of, open_layer
from ..image.layouts import link_target
from ..image.readers import FileReader, PeekReader, Reader, TapReader
from ..image.tar import TarStream, printable
from . import parallel
from .blobs import Blob, BlobScanner
from .layer import HitNamer, scan_pax
from .limits import Limits


@dataclass
class Job:
    """A blob to scan from a byte range of a plain file (in a worker, or here)."""

    path: str
    name: str
    offset: int
    size: int


class Collector:
    """Reads a source: blobs, JSON documents and archive-internal links, by member name.

    An archive's own bytes (its tar headers, padding, what follows its end-of-archive marker;
    and, when it is compressed, its bytes as stored) are searched for the canaries by a plane
    of their own; its members' data by the blobs' scans (`blobs`).  A member name that appears
    twice (as the engines read it, normalised) is an error: engines differ in which copy they
    load.  When the deadline passes, what is left unread is a gap."""

    def __init__(self, scanner: BlobScanner, limits: Limits) -> None:
        self.scanner = scanner
        self.limits = limits
        self.blobs: dict[str, Blob] = {}
        self.links: dict[str, str] = {}
        self.outer: list[Finding] = []  # from the archive's own bytes and pax records
        self.gaps: list[Gap] = []  # what the deadline left unread
        self.broken: list[str] = []  # errors a canary found all the same outweighs
        self.unterminated = False
        self.jobs: list[Job] = []

    @property
    def jsons(self) -> dict[str, object]:
        return {k: b.doc for k, b in self.blobs.items() if b.kind == "json"}

    def check_time(self) -> None:
        if time.monotonic() > self.scanner.context.deadline:
            raise OutOfTime(f"the audit's time limit ({self.limits.max_seconds:.0f} s) passed")

    def witnessed(self) -> bool:
        """Has a canary been found anywhere yet?"""
        return any(f.rule == "canary" for f in self.outer) or any(
            blob.witnessed() for blob in self.blobs.values()
        )

    def add(self, blob: Blob) -> None:
        if blob.broken:
            self.broken.append(blob.broken)
        for secret in blob.secrets:
            self.scanner.scrub.add(secret)
        self.blobs[blob.name] = blob

    # -- archives ----------------------------------------------------------------------------
    def read_archive(self, raw: Reader, what: str, path: str | None = None) -> None:
        """A tar (or compressed tar) read from ``raw``; ``path`` names it when it is a plain
        file (read by a `FileReader`) that workers may read too."""
        peek = PeekReader(raw, 1024)
        kind = compression_of(peek.head)
        if kind is None:
            self._witness(peek)
            if self.witnessed():
                self.broken.append(f"{what} is not a tar archive")
                return
            raise AuditError(
                f"{what} is not a tar archive (nor a compressed one); give a docker-archive, an "
                "OCI archive or layout directory."
            )
        matcher = self.scanner.matcher
        stored = None
        if kind != "none":  # the archive's bytes as stored: a plane of their own
            stored = StreamSearch(matcher.needles)
            peek = PeekReader(TapReader(peek, stored), 1024)
        try:
            reader, _ = open_layer(peek, what)
        except CorruptStream as exc:
            raise AuditError(f"{exc} Save the image again.") from None
        seekable = reader is peek and path is not None and isinstance(raw, FileReader)
        hits = HitNamer(matcher, "<archive>", None, data_elsewhere=True)
        limits = self.limits
        bound = None
        if stored is not None and isinstance(raw, FileReader):  # (a compressed archive file)
            size = os.fstat(raw.fd).st_size
            bound = min(limits.layer_cap, max(limits.layer_floor, limits.layer_ratio * size))
        outer = TarStream(
            reader, what, max_bytes=bound, max_members=limits.max_blobs, taps=[hits.plane]
        )
        names: set[str] = set()
        try:
            self._walk(outer, hits, names, path if seekable else None)
            outer.finish(self.check_time)
        except Stopped as exc:  # (the deadline, a bomb)
            self.gaps.append(Gap("<archive>", f"{exc.reason}; read to byte {outer.offset}"))
            self.outer += hits.end(outer)[0]
            return
        except AuditError as exc:  # every byte left, through the plane: a witness beats it
            with contextlib.suppress(AuditError):
                outer.finish(self.check_time)
            self.outer += hits.end(outer)[0]
            if not self.witnessed():
                if isinstance(exc, CorruptStream):
                    raise AuditError(f"{exc} Save the image again.") from None
                raise
            self.broken.append(str(exc))
            return
        self.outer += hits.end(outer)[0]
        if stored is not None:
            _drain_raw(peek)
            self.outer += plane_findings(
                matcher.needles, stored, "<archive>", 0, stored.offset,
                "the archive's bytes as stored (compressed)", "stored", None,
            )  # fmt: skip
        if not names:
            raise AuditError(f"{what} is an empty tar archive; there is no image in it.")
        self.unterminated = not outer.clean_end

    def _witness(self, reader: Reader) -> None:
        """Search bytes that are no archive for the canaries all the same: a witness makes
        the error a note (`broken`) and the verdict a leak."""
        plane = StreamSearch(self.scanner.matcher.needles)
        _drain_raw(TapReader(reader, plane))
        where = "the input's bytes (not an archive)"
        self.outer += plane_findings(
            self.scanner.matcher.needles, plane, "<archive>", 0, plane.offset, where, "stream", None
        )

    def _walk(self, outer: TarStream, hits: HitNamer, names: set[str], path: str | None):
        """The members of the archive: blobs scanned here or queued for the workers (from the
        file at ``path``, when there is one), links, pax records."""
        for member in outer:
            self.check_time()
            shown = "<archive>/" + printable(member.name)
            span = hits.member(member, shown)
            if member.kind in ("file", "symlink", "hardlink"):
                if member.name in names:
                    raise AuditError(
                        f"the archive holds {printable(member.name)!r} twice: engines differ in "
                        "which copy they load (the first, the last), so the audit cannot say "
                        "what was loaded. Save the image again with a sound tool."
                    )
                names.add(member.name)
            if member.pax is not None:
                for f in scan_pax(self.scanner.matcher, member, None, None, span.named):
                    f.message += f" (on the archive member {printable(member.name)})"
                    self.outer.append(f)
            if member.kind in ("symlink", "hardlink"):
                hard = member.kind == "hardlink"
                self.links[member.name] = link_target(member.name, member.linkname, hard)
            elif member.kind == "file":
                if path is not None and 0 < self.limits.parallel_bytes <= member.size:
                    # a worker reads it from the file; the walk seeks past it
                    self.jobs.append(Job(path, member.name, outer.offset, member.size))
                else:
                    self.add(self.scanner.scan_blob(member.name, outer, member.size))

    def _scan_range(self, path: str, name: str, offset: int, size: int) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            reader = FileReader(fd, offset, size)
            self.add(self.scanner.scan_blob(name, reader, size))
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
        try:
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
        except OutOfTime as exc:
            read = set(self.blobs)
            for _, name, _ in files:
                if name not in read:
                    self.gaps.append(Gap(f"<layout>/{printable(name)}", exc.reason, name))

    def finish_jobs(self) -> None:
        """Scan the deferred blobs: side by side in worker processes, or here in order."""
        progress = self.scanner.progress
        if progress is not None:
            progress.total = progress.done + len(self.jobs)
        for blob in parallel.run(self.jobs, self.scanner, self.limits):
            self.add(blob)


def _drain_raw(reader: Reader) -> None:
    """Read a compressed archive's stored bytes to their end (through its plane's tap)."""
    scratch = memoryview(bytearray(1 << 16))
    while reader.readinto(scratch):
        reader.barrier()
