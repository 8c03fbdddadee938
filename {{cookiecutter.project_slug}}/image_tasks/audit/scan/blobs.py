"""One blob of a source (an archive member, a layout's file): classified by its first bytes,
hashed while it streams, and scanned once (`BlobScanner.scan_blob`).

JSON documents are kept (they are small); layers are scanned and only what they yield is kept;
anything else is scanned as an opaque file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..detect.canaries import CanarySet
from ..detect.matching import Matcher
from ..detect.redaction import Scrubber
from ..findings import Finding
from ..image.compression import compression_of, open_layer
from ..image.readers import BytesReader, Hasher, HashingReader, PeekReader, Reader
from ..image.tar import TarStream, printable
from .file import FileScan
from .layer import LayerResult, LayerScan
from .limits import Limits
from .nested import Budgets


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
class ScanContext:
    """What scanning a blob needs, the same in this process and in a worker."""

    canaries: CanarySet
    strict: bool
    limits: Limits
    deadline: float


class BlobScanner:
    """Classifies, hashes and scans blobs (`scan_blob`); owns the audit's hash thread."""

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
        scan = LayerScan(self.matcher, blob.name, budgets, deadline=self.context.deadline)
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
