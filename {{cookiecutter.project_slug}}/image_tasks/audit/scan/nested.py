"""Archives and compressed files inside a layer, opened and scanned like the layer's files.

A file named ``.gz``, ``.tgz``, ``.zip``, ``.whl``, ``.jar`` or ``.tar`` whose first bytes
agree is opened: a gzip stream is inflated (a tar inside is read member by member), a zip's
members are read, a tar's members are scanned as a layer's are.  Archives inside those are
opened too, down to `MAX_DEPTH`.  The paths of what is inside read ``/outer.tgz!/inner``.
Bounds, each said in the report when it stops something (never silently):

* the byte budgets per image (`Budget`): decompressed bytes scanned in nested archives, one
  budget for archives outside package trees (``Limits.nested_bytes``: shared among the layers
  by size, with at least `LAYER_FLOOR` for each, so that a small layer's archive is never
  starved by the base image's documentation) and a smaller one for archives inside them
  (``Limits.nested_package_bytes``: man pages, changelogs, vendored wheels); what is left when
  one is spent is noted, not opened;
* an archive larger than `MAX_ARCHIVE` is not opened (its stored bytes are still scanned);
* a decompression bomb: output beyond `MAX_RATIO` times the input (and past 1 MiB) stops;
* an encrypted zip member, a corrupt or truncated stream: noted, the rest goes on.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass, field

from ..errors import AuditError
from ..findings import Finding
from ..image.compression import gzip_inflate, looks_like_tar
from ..image.readers import BytesReader, PeekReader, Reader
from ..image.tar import TarStream
from ..rules.scope import in_package_tree
from .file import FileScan

MAX_DEPTH = 2  # a layer's file is depth 1; an archive inside it depth 2
MAX_ARCHIVE = 32 << 20  # stored bytes of one nested archive that are read into memory
MAX_RATIO = 100
LAYER_FLOOR = 16 << 20  # of the outside budget, for every layer
RATIO_FLOOR = 1 << 20
CHUNK = 1 << 20
GZIP = 31  # zlib's wbits: a gzip header and trailer
RAW_DEFLATE = -15  # no header (a zip member)
SUFFIXES = {
    ".tar.gz": "gzip",
    ".tgz": "gzip",
    ".gz": "gzip",
    ".zip": "zip",
    ".whl": "zip",
    ".jar": "zip",
    ".tar": "tar",
}
MAGIC = {"gzip": (b"\x1f\x8b",), "zip": (b"PK\x03\x04", b"PK\x05\x06")}


@dataclass
class Budget:
    """Decompressed bytes that nested archives may still cost, and what was left unopened."""

    left: int
    what: str = "outside package trees"
    skipped: int = 0
    skipped_bytes: int = 0

    def note(self) -> str | None:
        if not self.skipped:
            return None
        return (
            f"{self.skipped} nested archive(s) {self.what} ({self.skipped_bytes} bytes stored) "
            "not opened: their budget of decompressed bytes for this image was spent; their "
            "stored bytes were scanned"
        )


@dataclass
class Budgets:
    """A layer's two budgets: for archives outside package trees, and inside them."""

    outside: Budget
    inside: Budget

    @classmethod
    def of(cls, shares: tuple[int, int]) -> Budgets:
        return cls(Budget(shares[0]), Budget(shares[1], "in package trees"))

    def notes(self) -> list[str]:
        return [n for n in (self.outside.note(), self.inside.note()) if n]


@dataclass
class Opened:
    findings: list[Finding] = field(default_factory=list)
    held: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def kind_of(path: str, depth: int, size: int) -> str | None:
    """The nested-archive kind ``path`` is named as (None: not one, or too deep)."""
    if depth >= MAX_DEPTH or size < 20 or path[-1:] not in "zZpPlLrR":  # (every suffix's end)
        return None
    low = path[-8:].lower()
    for suffix, kind in SUFFIXES.items():
        if low.endswith(suffix):
            return kind
    return None


def keep(kind: str | None, size: int) -> int:
    """How many bytes of a file named like an archive of ``kind`` its scan keeps, to open it
    after: all of it, unless it is too large to be opened at all."""
    return MAX_ARCHIVE if kind and size <= MAX_ARCHIVE else 0


def _budget(layer, packaged: bool) -> Budget:
    return layer.budgets.inside if packaged else layer.budgets.outside


def unaffordable(layer, path: str, kind: str, head, size: int) -> bool:
    """Is the budget for a nested archive of ``kind`` at ``path`` (its first bytes: ``head``)
    in ``layer`` spent already?  Then it is counted as skipped, and need not be kept."""
    if not _looks_like(kind, head):
        return False  # (not an archive: nothing to count)
    budget = _budget(layer, not layer.m.strict and in_package_tree(path))
    if budget.left > 0:
        return False
    budget.skipped += 1
    budget.skipped_bytes += size
    return True


def open_archive(layer, scan: FileScan, kind: str) -> Opened:
    """Open the nested archive whose stored bytes ``scan`` just read (its head: all of it up
    to `MAX_ARCHIVE`); ``layer`` is the `layer.LayerScan` it lies in."""
    opened = Opened()
    data = scan.head
    if scan.size > MAX_ARCHIVE:
        opened.notes.append(
            f"{scan.shown}: a nested archive of {scan.size} bytes, over the {MAX_ARCHIVE}-byte "
            "limit for opening one; its stored bytes were scanned, its contents were not"
        )
        return opened
    if not _looks_like(kind, data):
        return opened  # named like an archive, but it is not one
    budget = _budget(layer, scan.packaged)
    if budget.left <= 0:
        budget.skipped += 1
        budget.skipped_bytes += scan.size
        return opened
    prefix = scan.path + "!/"
    below = layer.child(Budgets(budget, budget), prefix)  # (inside: the same budget)
    try:
        if kind == "zip":
            _zip(below, budget, data, prefix, opened)
        else:
            reader = _Inflating(data, budget, scan.shown) if kind == "gzip" else BytesReader(data)
            _stream(below, reader, prefix, scan.path, opened)
    except (AuditError, zipfile.BadZipFile, zlib.error, gzip_inflate.error, EOFError) as exc:
        reason = str(exc) if isinstance(exc, AuditError) else "corrupt or truncated"
        opened.notes.append(f"{scan.shown}: the nested archive could not be read to its end "
                            f"({reason.rstrip('.')}); what came before was scanned")  # fmt: skip
    return opened


def _stream(below, reader: Reader, prefix: str, path: str, opened: Opened) -> None:
    """A decompressed stream: a tar (scanned member by member) or a single file; ``below``:
    the `layer.LayerScan` of what is inside the archive (one level down)."""
    peek = PeekReader(reader, 512)
    if _is_tar(peek.head):
        inner = below
        try:
            inner.scan(TarStream(peek, f"the nested tar /{prefix[:-2]}"))
        finally:  # what was found before an error stands
            opened.findings += inner.result.findings
            opened.held += inner.held
            opened.notes += inner.result.notes
        return
    base = path.rpartition("/")[2]
    inner = prefix + (base[:-3] if base.lower().endswith(".gz") else base)
    _file(below, peek, inner, MAX_ARCHIVE, opened)  # (its size is not told: as if large)


_scratch = bytearray(CHUNK)  # decompressed pieces, one file at a time (this is not reentrant)
_view = memoryview(_scratch)


def _looks_like(kind: str, data) -> bool:
    """Do a file's first bytes agree with the archive kind its name says?"""
    if kind == "tar":
        return _is_tar(bytes(data[:512]))
    return bytes(data[:4]).startswith(MAGIC[kind])


def _is_tar(head: bytes) -> bool:
    """A tar's first header (not a block of zeros, which any zero-filled file starts with)."""
    return len(head) == 512 and head != bytes(512) and looks_like_tar(head)


def _file(layer, reader: Reader, path: str, size: int, opened: Opened) -> FileScan:
    """Scan a decompressed file of ``size`` bytes (as its archive says) piece by piece; it
    lies in ``layer``, the `layer.LayerScan` one level below the archive."""
    kind = kind_of(path, layer.depth, size)
    scan = FileScan(layer.m, path, size, layer.blob, keep=keep(kind, size))
    try:
        while n := reader.readinto(_view):
            scan.feed(_scratch, 0, n)
    finally:  # what was found before an error stands
        scan.finish()
        opened.findings += scan.findings
        opened.held += scan.held
        opened.notes += scan.notes
    if kind:  # an archive inside this one, one level further down
        inner = open_archive(layer, scan, kind)
        opened.findings += inner.findings
        opened.held += inner.held
        opened.notes += inner.notes
    return scan


def _zip(below, budget: Budget, data, prefix: str, opened: Opened) -> None:
    with zipfile.ZipFile(_ViewFile(data)) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            shown = f"/{prefix}{info.filename}"
            if info.flag_bits & 0x1:
                opened.notes.append(f"{shown}: encrypted; not read")
                continue
            if budget.left <= 0:
                budget.skipped += 1
                budget.skipped_bytes += info.compress_size
                continue
            _file(below, _zip_member(archive, data, info, budget, shown), prefix + info.filename,
                  info.file_size, opened)  # fmt: skip


def _zip_member(archive: zipfile.ZipFile, data, info: zipfile.ZipInfo, budget, shown) -> Reader:
    """A zip member's decompressed bytes.  Deflate (nearly every member of wheels and jars) is
    inflated here, from the stored bytes in place, by the gzip inflater (``isal`` when it is
    installed: measured faster than zipfile's zlib); other methods go through zipfile."""
    if info.compress_type not in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
        return _Bounded(archive.open(info), info.compress_size, budget, shown)
    at = info.header_offset
    header = bytes(data[at : at + 30])
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("no local header")
    names = int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
    start = at + 30 + names  # (after the name and the extra field)
    stored = memoryview(data)[start : start + info.compress_size]
    if len(stored) < info.compress_size:
        raise EOFError
    if info.compress_type == zipfile.ZIP_STORED:
        return _Bounded(_ViewFile(stored), len(stored), budget, shown)
    return _Inflating(stored, budget, shown, RAW_DEFLATE)


class _ViewFile:
    """The seekable file zipfile wants, over a buffer (no copy of the whole archive)."""

    def __init__(self, data) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self.pos, len(self.data))[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def read(self, n: int = -1) -> bytes:
        end = len(self.data) if n is None or n < 0 else min(len(self.data), self.pos + n)
        out = bytes(self.data[self.pos : end])
        self.pos = end
        return out


class _Bounded(Reader):
    """A zip member's decompressed bytes, charged to the budget, stopped past the ratio."""

    def __init__(self, member, stored: int, budget: Budget, shown: str) -> None:
        self.member = member
        self.limit = max(RATIO_FLOOR, MAX_RATIO * stored)
        self.budget = budget
        self.shown = shown
        self.out = 0

    def readinto(self, view) -> int:
        data = self.member.read(min(len(view), _allowance(self.budget)))
        return _charge(self, data, view)


class _Inflating(Reader):
    """Deflated bytes inflated, charged and bounded: a gzip file (its concatenated members too,
    ``wbits`` 31) or a zip member's raw deflate stream (`RAW_DEFLATE`)."""

    def __init__(self, data, budget: Budget, shown: str, wbits: int = GZIP) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.wbits = wbits
        self.d = gzip_inflate.decompressobj(wbits)
        self.limit = max(RATIO_FLOOR, MAX_RATIO * len(data))
        self.budget = budget
        self.shown = shown
        self.out = 0

    def readinto(self, view) -> int:
        want = min(len(view), _allowance(self.budget))
        while True:
            d = self.d
            if d.eof:
                rest = d.unused_data
                if self.wbits != GZIP or not rest.strip(b"\0"):
                    return 0
                self.d = d = gzip_inflate.decompressobj(GZIP)
                self.data, self.pos = memoryview(rest), 0
            source = d.unconsumed_tail or self.data[self.pos : self.pos + CHUNK]
            if not d.unconsumed_tail:
                self.pos += len(source)
            if not source:
                raise EOFError
            out = d.decompress(source, want)
            if out:
                return _charge(self, out, view)


def _allowance(budget: Budget) -> int:
    if budget.left <= 0:
        raise AuditError("the nested-archive budget of this image was spent")
    return budget.left


def _charge(reader, data: bytes, view) -> int:
    """Hand ``data`` out through ``view``, charged to the budget; AuditError past the ratio."""
    reader.out += len(data)
    reader.budget.left -= len(data)
    if reader.out > reader.limit:
        raise AuditError(
            f"it expands more than {MAX_RATIO} times its stored size (a decompression bomb?)"
        )
    view[: len(data)] = data
    return len(data)
