"""One blob of a source (an archive member, a layout's file): classified by its first bytes,
hashed while it streams, and scanned once (`BlobScanner.scan_blob`).

JSON documents are kept (they are small); layers are scanned and only what they yield is kept;
anything else is scanned as an opaque file.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field, replace

from ..detect.canaries import CanarySet
from ..detect.matching import Matcher
from ..detect.redaction import Scrubber
from ..detect.stream_search import StreamSearch, plane_findings
from ..errors import AuditError, CorruptStream, OutOfTime, Stopped
from ..findings import Finding, Gap
from ..image.compression import compression_of, open_layer
from ..image.readers import (
    BytesReader,
    Hasher,
    HashingReader,
    HashTap,
    PeekReader,
    Reader,
    TapReader,
)
from ..image.tar import TarStream, printable
from . import documents
from .file import FileScan
from .layer import LayerResult, LayerScan
from .limits import Limits


@dataclass
class Blob:
    """One blob of the source, after its scan."""

    name: str
    size: int
    digest: str = ""  # sha256 of the blob as stored ("" when it was not read to its end)
    kind: str = "other"  # layer, json, other
    compression: str | None = None
    diff_id: str = ""  # sha256 of a compressed layer's uncompressed bytes
    result: LayerResult | None = None
    findings: list[Finding] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    doc: object = None  # the parsed JSON document (kind "json")
    raw: dict[int, Finding] = field(default_factory=dict)  # a document's canaries, as bytes
    secrets: list[str] = field(default_factory=list)  # what its scan taught the scrubber
    broken: str | None = None  # why it could not be read as what it is (it holds a canary)

    def canary_findings(self) -> list[Finding]:
        """The canary findings its scan made (before any image is known)."""
        found = self.findings + (self.result.findings if self.result else [])
        return [f for f in found if f.rule == "canary"] + list(self.raw.values())

    def witnessed(self) -> bool:
        return bool(self.canary_findings())


@dataclass(frozen=True)
class ScanContext:
    """What scanning a blob needs, the same in this process and in a worker."""

    canaries: CanarySet
    strict: bool
    limits: Limits
    deadline: float


class BlobScanner:
    """Classifies, hashes and scans blobs (`scan_blob`); owns the audit's hash thread.

    Every byte of a blob is searched for the canaries once: an uncompressed layer's by its tar
    stream's plane; a compressed layer's as stored (its gzip header fields, zstd skippable
    frames, anything after its end) and again decompressed, from first byte to last; a JSON
    document's as bytes, and then its strings as parsed; any other blob's as a file."""

    def __init__(self, context: ScanContext, scrub: Scrubber, *, threaded: bool = True) -> None:
        self.context = context
        self.limits = context.limits
        self.scrub = scrub
        self.matcher = Matcher(context.canaries, scrub, strict=context.strict)
        self.hasher = Hasher() if threaded else None
        self.progress = None  # a progress.Progress, in this process only

    def close(self) -> None:
        if self.hasher is not None:
            self.hasher.close()

    def scan_blob(self, name: str, reader: Reader, size: int) -> Blob:
        """Classify, hash and scan one blob of ``size`` bytes read from ``reader``.

        A blob that cannot be read as what it is (a corrupt layer, a JSON document with a key
        twice) raises `AuditError`, unless its bytes hold a canary: a leak needs one witness,
        whatever else is wrong, so the blob is returned with the error in `Blob.broken`."""
        limits = self.limits
        blob = Blob(name, size)
        known = set(self.scrub.secrets)
        hashing = HashingReader(reader, self.hasher)
        peek = PeekReader(hashing, 1024)
        head = peek.head
        kind = compression_of(head)
        is_layer = (kind is not None and size >= 512) or kind not in (None, "none")
        try:
            if is_layer:
                self._layer(blob, peek)
            elif head.lstrip()[:1] in (b"{", b"[") and size <= limits.json_bytes:
                self._json_or_file(blob, peek)
            else:  # (a JSON document too large to parse: its strings decoded as it streams)
                self._file(blob, peek, size, head.lstrip()[:1] in (b"{", b"["))
            _drain(hashing, self.context.deadline)
            blob.digest = hashing.hexdigest()
        except OutOfTime as exc:
            hashing.barrier()
            blob.gaps.append(Gap(f"<blob {printable(name)}>", exc.reason, name))
        except AuditError as exc:
            hashing.barrier()
            if not blob.witnessed():
                raise
            blob.broken = str(exc)
        blob.secrets = sorted(self.scrub.secrets - known)
        return blob

    def _layer(self, blob: Blob, peek: PeekReader) -> None:
        limits = self.limits
        what = f"the layer blob {printable(blob.name)!r}"
        scan = LayerScan(self.matcher, blob.name, deadline=self.context.deadline)
        blob.kind, blob.result = "layer", scan.result
        taps = [scan.plane]
        stored = None
        if compression_of(peek.head) != "none":  # its bytes as stored: a plane of their own
            stored = StreamSearch(self.matcher.needles)
            peek = TapReader(peek, stored)
            diff = HashTap()
            taps.append(diff)
        stream = None
        try:
            reader, blob.compression = open_layer(PeekReader(peek, 1024), what)
            if blob.compression == "none":
                max_bytes = blob.size
            else:
                max_bytes = min(
                    limits.layer_cap, max(limits.layer_floor, limits.layer_ratio * blob.size)
                )
            stream = TarStream(
                reader, what, max_bytes=max_bytes, max_members=limits.max_members, taps=taps
            )
            if self.progress is not None:
                scan.progress = self.progress.advance
            bombed = False
            try:
                scan.scan(stream)
            except OutOfTime:
                raise
            except Stopped as exc:  # a bomb: what was read stands; the rest is a gap
                scan.result.gaps.append(Gap("<layer>", exc.reason, blob.name))
                bombed = True
        except AuditError as exc:  # (CorruptStream too): every byte left, through the planes
            if stream is not None:
                with contextlib.suppress(AuditError):
                    stream.finish(scan.tick)
                scan.result.findings += scan.hits.end(stream)[0]
            if stored is not None:
                with contextlib.suppress(AuditError):
                    _drain(peek, self.context.deadline)
                self._stored(blob, stored)
            if isinstance(exc, CorruptStream):
                raise AuditError(f"{exc} Save the image again.") from None
            raise
        if stored is not None:
            _drain(peek, self.context.deadline)  # (anything after the compressed stream's end)
            self._stored(blob, stored)
            if not bombed:  # (else it is unknown: the gap stands instead of the check)
                blob.diff_id = diff.sha256.hexdigest()
        if self.progress is not None:
            self.progress.layer_done(blob.size)

    def _stored(self, blob: Blob, stored: StreamSearch) -> None:
        blob.result.findings += plane_findings(
            self.matcher.needles, stored, "<layer>", 0, stored.offset,
            "the layer's bytes as stored (compressed)", "stored", blob.name,
        )  # fmt: skip

    def _json_or_file(self, blob: Blob, peek: PeekReader) -> None:
        data = bytearray()
        chunk = bytearray(1 << 16)
        view = memoryview(chunk)
        while n := peek.readinto(view):
            peek.barrier()  # (the chunk is reused)
            data += view[:n]
        plane = StreamSearch(self.matcher.needles)  # (its bytes first: a witness beats an error)
        plane.feed(data, 0, len(data))
        needles = self.matcher.needles
        for hit in plane.take(len(data)):
            canary = needles.canary(hit.needle)
            if canary not in blob.raw:
                where = "the document's bytes"
                blob.raw[canary] = needles.finding(hit, "", 0, len(data), where, "document", None)
        try:
            doc = documents.parse(bytes(data), printable(blob.name))
        except documents.NotJson:
            blob.raw.clear()  # (searched as a file instead)
            self._file(blob, PeekReader(BytesReader(data), 0), len(data))
            return
        except AuditError:  # (a key twice): its canaries as bytes are its findings
            shown = f"<archive>/{printable(blob.name)}"
            blob.findings = [replace(f, path=shown) for f in blob.raw.values()]
            raise
        blob.doc, blob.kind = doc, "json"

    def _file(self, blob: Blob, reader: Reader, size: int, json_like: bool = False) -> None:
        scan = FileScan(self.matcher, blob.name, size, blob.name, own_plane=True)
        strings = documents.Unescaped(self.matcher.needles) if json_like else None
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        while n := reader.readinto(view[: min(len(buf), size)] if size else view):
            scan.feed(buf, 0, n)
            if strings is not None:
                strings.feed(bytes(buf[:n]))
            reader.barrier()  # the buffer is read into again
            if time.monotonic() > self.context.deadline:
                raise OutOfTime("the audit's time limit passed before it was read to its end")
        scan.finish()
        blob.findings = scan.findings + scan.held  # not in a package tree: nothing is held
        if strings is not None:
            shown = f"<archive>/{printable(blob.name)}"
            blob.findings += strings.findings(shown, blob.name, scan.canaries)


def _drain(reader: Reader, deadline: float) -> None:
    """Read a blob to its end, so that all of it is hashed (and searched, through a tap)."""
    scratch = memoryview(bytearray(1 << 20))
    while True:
        reader.barrier()  # the scratch buffer is reused: its previous hash must be done
        if not reader.readinto(scratch):
            break
        if time.monotonic() > deadline:
            raise OutOfTime("the audit's time limit passed before it was read to its end")
