"""Archives and compressed files inside a layer's files, recognised by their first bytes (never
by their names) and read as streams, to `MAX_LEVELS` levels.

Opened (`detect`): gzip, zstd, xz, bzip2, unix compress (`image.lzw`), zip (wheels, jars,
zipapps, jmods: stored, deflate, bzip2 and lzma entries, `image.zipstream`), tar, and ``ar``
(Debian packages).  A tar inside is scanned as a layer is (`layer.LayerScan`, one level down);
any other stream inside (a compressed file's content, a zip entry, an ``ar`` member) is a file
of its own (`file.FileScan` with its own canary plane), opened in turn when it is an archive.
Every decompressed stream is searched for the canaries from its first byte to its last.  Paths
read ``/outer.jar!/inner``.

Nothing is held whole in memory, and there is no budget shared by the image: each archive has
its own bounds, and what a bound stops is a `findings.Gap` (an incomplete verdict, unless the
allow-list accepts the path):

* a decompressed stream may expand `RATIO` times the stored bytes read so far, past
  `RATIO_FLOOR`, and never past `CAP` (a decompression bomb stops there);
* archives nested deeper than `MAX_LEVELS`; the audit's deadline;
* formats recognised but not opened (7z, rar, lz4, lzip, rpm, cpio), zip entries that cannot
  be read (encrypted, another compression method), or that the central directory names where
  the stream met none (`image.zipstream`), and what readers of a stream read differently
  (`image.lzw`).

A stream that is corrupt or truncated is read as far as it decodes, which is as far as any
reader gets: that is a note, not a gap.
"""

from __future__ import annotations

import contextlib
import zlib
from bisect import bisect_left
from dataclasses import dataclass, field

from ..detect import credfiles
from ..errors import AuditError, CorruptStream, NoDecoder, Stopped
from ..findings import Finding, Gap
from ..image import ar, lzw
from ..image.compression import (
    XZ_MAGIC,
    ZSTD_MAGIC,
    Decompressing,
    decompressed,
    gzip_inflate,
    is_zstd_skippable,
)
from ..image.readers import BytesReader, PeekReader, Reader
from ..image.tar import TarStream, checksum_ok, printable
from ..image.zipstream import DESCRIPTOR, END, LOCAL, ZipError, ZipStream
from .file import FileScan, is_text

MAX_LEVELS = 8  # archives within archives: /a.tgz!/b.zip!/c.jar!/... (a layer's files: level 0)
RATIO = 200
RATIO_FLOOR = 64 << 20
CAP = 4 << 30  # decompressed bytes of one nested archive
HEAD = 1024  # bytes looked at to tell a format
CHUNK = 1 << 18  # a nested file is scanned in pieces this large
NESTED_TAR_BUFFER = 1 << 18
UNSUPPORTED = {
    b"7z\xbc\xaf\x27\x1c": "7z",
    b"Rar!\x1a\x07": "rar",
    b"\x04\x22\x4d\x18": "lz4",
    b"LZIP": "lzip",
    b"\xed\xab\xee\xdb": "rpm",
    b"070701": "cpio",
    b"070702": "cpio",
    b"070707": "cpio",
}


@dataclass
class Opened:
    """What an archive's contents yielded (findings held for the package-tree check apart)."""

    findings: list[Finding] = field(default_factory=list)
    held: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)


# every format's first byte: most files start with none of them, and are told apart at once
FIRST_BYTES = frozenset(b"\x1f\x28\xfdBP!J#7R\x04L\xed0" + bytes(range(0x50, 0x60)))


def detect_in(buf, s: int, e: int) -> tuple[str, int] | None:
    """`detect` on ``buf[s:e]``, without copying its head when its first byte rules it out."""
    if buf[s] not in FIRST_BYTES and buf[s + 257 : s + 262] != b"ustar":
        return None
    return detect(bytes(buf[s : min(e, s + HEAD)]))


def detect(head: bytes) -> tuple[str, int] | None:
    """``(kind, bytes before the archive)`` of a stream that starts with ``head``, or None:
    not an archive.  A kind "unsupported:NAME" is a format recognised but not opened."""
    if head[257:262] == b"ustar" and checksum_ok(head[:512]):
        return "tar", 0  # (ustar, GNU and pax; a v7 tar without the magic is not told apart)
    if not head or head[0] not in FIRST_BYTES:
        return None
    if head[:3] == b"\x1f\x8b\x08":
        return "gzip", 0
    if head[:4] == ZSTD_MAGIC or is_zstd_skippable(head):
        return "zstd", 0
    if head[:6] == XZ_MAGIC:
        return "xz", 0
    if (
        head[:3] == b"BZh"
        and head[3:4] in b"123456789"
        and head[4:10]
        in (
            b"1AY&SY",  # a block
            b"\x17rE8P\x90",  # the end of an empty stream
        )
    ):
        return "bzip2", 0
    if head[:4] in (LOCAL, END) or (head[:4] == DESCRIPTOR and head[4:8] == LOCAL):
        return "zip", 0
    if head[:8] == ar.MAGIC:
        return "ar", 0
    if head[:4] == b"JM\x01\x00" and head[4:8] == LOCAL:
        return "zip", 4  # a jmod: a 4-byte header, then a zip
    if head[:2] == b"#!" and (i := head.find(b"\n" + LOCAL)) > 0:
        return "zip", i + 1  # a zipapp: a #! line, then a zip
    if head[:2] == lzw.MAGIC and len(head) > 2 and head[2] & 0x1F <= lzw.MAX_BITS:
        return "compress", 0  # (gzip reads widths below 9 too: see image.lzw)
    for magic, name in UNSUPPORTED.items():
        if head.startswith(magic):
            return f"unsupported:{name}", 0
    return None


class _Counted(Reader):
    """Count the stored bytes a decompressor reads."""

    def __init__(self, inner: Reader) -> None:
        self.inner = inner
        self.n = 0

    def readinto(self, view) -> int:
        k = self.inner.readinto(view)
        self.n += k
        return k

    def barrier(self) -> None:
        self.inner.barrier()


class _Bounded(Reader):
    """An archive's decompressed bytes, stopped (`Stopped`) past its bounds: ``stored()`` is
    how many stored bytes have been read so far; ``tick`` checks the deadline."""

    def __init__(self, inner: Reader, stored, tick) -> None:
        self.inner = inner
        self.stored = stored
        self.tick = tick
        self.out = 0

    def readinto(self, view) -> int:
        n = self.inner.readinto(view)
        self.out += n
        if self.out > RATIO_FLOOR and self.out > RATIO * self.stored():
            raise Stopped(
                f"expands more than {RATIO} times its stored size (a decompression bomb?); "
                f"read to byte {self.out} of its contents"
            )
        if self.out > CAP:
            raise Stopped(f"expands past {CAP} bytes, the limit for one nested archive")
        self.tick()
        return n

    def barrier(self) -> None:
        self.inner.barrier()


class Tee(Reader):
    """The stored bytes of a file, handed to its `FileScan` as they are read."""

    def __init__(self, inner: Reader, scan: FileScan) -> None:
        self.inner = inner
        self.scan = scan

    def readinto(self, view) -> int:
        n = self.inner.readinto(view)
        if n:
            data = bytes(view[:n])
            self.inner.barrier()
            self.scan.feed(data, 0, n)
        return n

    def barrier(self) -> None:
        self.inner.barrier()

    def drain(self) -> None:
        scratch = memoryview(bytearray(CHUNK))
        while self.readinto(scratch):
            pass


def open_archive(
    ctx, reader: Reader, path: str, found: tuple[str, int], opened: Opened, data=None
) -> None:
    """Read the archive at ``path`` (its kind and prefix: ``found``, from `detect`) from
    ``reader`` (its stored bytes from the first; ``data``: all of them, when they are in
    memory); ``ctx`` is the `layer.LayerScan` of the stream it lies in.  Findings, notes and
    gaps go to ``opened``."""
    kind, prefix = found
    shown = "/" + printable(path)
    if kind.startswith("unsupported:"):
        reason = f"a {kind[12:]} archive, a format the audit does not open"
        opened.gaps.append(Gap(shown, reason, ctx.blob))
        return
    if ctx.depth >= MAX_LEVELS:
        reason = f"an archive nested more than {MAX_LEVELS} levels deep; not opened"
        opened.gaps.append(Gap(shown, reason, ctx.blob))
        return
    below = ctx.child(path + "!/")
    try:
        if kind == "zip":
            _zip(below, reader, path, prefix, opened)
        elif kind == "tar":
            _tar(below, reader, path, opened)
        elif kind == "ar":
            _ar(below, reader, path, opened)
        elif kind == "gzip" and data is not None and (content := _gunzipped(data)) is not None:
            _content(below, content, path, opened)  # (small: decoded in one call)
        else:
            _compressed(below, reader, path, kind, opened)
    except NoDecoder as exc:
        opened.gaps.append(Gap(shown, str(exc).rstrip("."), ctx.blob))
    except Stopped as exc:
        if exc.__class__ is not Stopped:  # (the deadline: the caller's to name)
            raise
        opened.gaps.append(Gap(shown, exc.reason, ctx.blob))
    except (AuditError, ZipError, ar.ArError) as exc:
        reason = str(exc) if isinstance(exc, AuditError) else f"malformed: {exc}"
        opened.notes.append(
            f"{shown}: the nested archive could not be read to its end ({reason.rstrip('.')}); "
            "what came before was scanned"
        )


def _tar(below, reader: Reader, path: str, opened: Opened) -> None:
    stream = TarStream(
        reader, f"the nested tar /{printable(path)}", buffer_size=NESTED_TAR_BUFFER,
        taps=[below.plane],
    )  # fmt: skip
    try:
        below.scan(stream)
    finally:  # what was found before an error stands
        opened.findings += below.result.findings
        opened.held += below.held
        opened.notes += below.result.notes
        opened.gaps += below.result.gaps


def _gunzipped(data) -> bytes | None:
    """A small gzip file's content, decoded in one call (its members one after the other);
    None when it is not small once decoded, or not whole: then it is read as a stream."""
    out = b""
    rest = data
    while True:
        d = gzip_inflate.decompressobj(31)
        try:
            out += d.decompress(rest, Batch.SIZE + 1 - len(out))
        except (zlib.error, gzip_inflate.error):
            return None
        if not d.eof or len(out) > Batch.SIZE:
            return None
        rest = d.unused_data.lstrip(b"\0")
        if not rest:
            return out


def _content(below, content: bytes, path: str, opened: Opened) -> None:
    """A compressed file's content, whole in memory: `_compressed`'s work without streams."""
    found = detect(content[:HEAD])
    if found is not None and found[0] == "tar":
        _tar(below, BytesReader(content), path, opened)
        return
    stream(below, None, path + "!/" + _inner_name(path), opened, found, content)


def _inner_name(path: str) -> str:
    """How the content of the compressed file at ``path`` is named: without its suffix."""
    base = path.rpartition("/")[2].rpartition("!")[2]
    stem, dot, suffix = base.rpartition(".")
    return stem if dot and suffix.lower() in ("gz", "tgz", "zst", "xz", "bz2", "z") else base


def _compressed(below, reader: Reader, path: str, kind: str, opened: Opened) -> None:
    """A compressed stream: a tar inside is read member by member; anything else is one file,
    named as the stream without its suffix (``/x.gz!/x``)."""
    counted = _Counted(reader)
    what = f"the nested {kind} stream /{printable(path)}"
    out = _Bounded(decompressed(counted, what, kind), lambda: counted.n, below.tick)
    peek = PeekReader(out, HEAD)
    found = detect(peek.head)
    if found is not None and found[0] == "tar":
        _tar(below, peek, path, opened)
        return
    stream(below, peek, path + "!/" + _inner_name(path), opened, found)


def _zip(below, reader: Reader, path: str, prefix: int, opened: Opened) -> None:
    archive = ZipStream(reader, f"the nested zip /{printable(path)}", prefix)
    shown = "/" + printable(path)
    inner = 0  # decompressed bytes of all entries
    batch = Batch(below, opened)
    try:
        for entry in archive:
            below.tick()
            inside = path + "!/" + entry.name
            if entry.problem is not None:
                opened.gaps.append(Gap("/" + printable(inside), entry.problem, below.blob))
                continue
            if entry.stored is not None:  # a small entry: decoded whole, searched in a batch
                data = _decoded(entry, archive, inner)
                inner += len(data) if data is not None else 0
                if data is not None:
                    batch.add(inside, data)
                    continue
                entry.reader = BytesReader(entry.stored)
                if entry.method == 8:
                    what = f"the nested zip /{printable(path)}, entry {entry.name!r}"
                    entry.reader = Decompressing(entry.reader, what, "deflate", single=True)
            bounded = _Bounded(entry.reader, lambda: archive.src.pos, below.tick)
            bounded.out = inner  # (the ratio and the cap are the archive's, over all entries)
            # (a corrupt entry: the zip's reading notes it as it passes over the rest of it)
            with contextlib.suppress(CorruptStream):
                stream(below, bounded, inside, opened)
            inner = bounded.out
    except ZipError as exc:
        reason = f"could not be read in order past byte {archive.src.pos} ({exc}); not read"
        opened.gaps.append(Gap(shown + "!/<the entries after it>", reason, below.blob))
    finally:
        batch.flush()
    for note in archive.notes:
        opened.notes.append(f"{shown}: {note}")
    for name in archive.unmet:
        reason = "named by the central directory, where reading the zip in order met no such " \
            "entry (hidden, overlapping, or described otherwise); not read"  # fmt: skip
        opened.gaps.append(Gap(f"{shown}!/{printable(name)}", reason, below.blob))


def _decoded(entry, archive: ZipStream, inner: int) -> bytes | None:
    """A small entry's data, decoded in one call; None when it is not small once decoded (or
    not whole: corrupt, truncated): then it is read as a stream.  Past the archive's bounds
    (its ratio, its cap: over all its entries), `Stopped`."""
    if entry.method == 0:
        data = entry.stored
    else:
        d = gzip_inflate.decompressobj(-15)
        try:
            data = d.decompress(entry.stored, Batch.SIZE + 1)
        except (zlib.error, gzip_inflate.error):
            return None
        if not d.eof or len(data) > Batch.SIZE:
            return None
    out = inner + len(data)
    if out > RATIO_FLOOR and out > RATIO * archive.src.pos:
        raise Stopped(
            f"expands more than {RATIO} times its stored size (a decompression bomb?); read to "
            f"byte {out} of its contents"
        )
    if out > CAP:
        raise Stopped(f"expands past {CAP} bytes, the limit for one nested archive")
    return data


class Batch:
    """Small entries' contents side by side in one buffer, searched once for the canaries'
    needles: most entries (byte code, a wheel's sources) hold none, and cost a lookup (and a
    text entry, a probe for the pattern rules' terms).  An entry with a needle, a pattern's
    term, a credential-file rule or an archive's magic is then scanned alone."""

    SIZE = 1 << 20

    def __init__(self, ctx, opened: Opened) -> None:
        self.ctx = ctx
        self.opened = opened
        self.buf = bytearray(self.SIZE)
        self.used = 0
        self.entries: list[tuple[str, int, int]] = []

    def add(self, path: str, data: bytes) -> None:
        if self.used + len(data) > self.SIZE:
            self.flush()
        s = self.used
        self.buf[s : s + len(data)] = data
        self.used += len(data)
        self.entries.append((path, s, self.used))

    def flush(self) -> None:
        if not self.entries:
            return
        ctx, buf, opened = self.ctx, self.buf, self.opened
        needles = ctx.m.needles
        starts = []  # where a needle may start: the entries there search it again, alone
        dense = False  # (a needle too frequent to list: every entry searches it)
        for positions in needles.engine.scan(buf, 0, self.used, needles.which):
            dense = dense or positions is None
            starts += positions or ()
        starts.sort()
        for path, s, e in self.entries:
            found = detect_in(buf, s, e) if e > s else None
            j = bisect_left(starts, s)
            needle = dense or (j < len(starts) and starts[j] < e)
            pattern = is_text(buf, s, e) and ctx.m.probe(buf, s, e)
            if not (needle or pattern or found or credfiles.rules_for(path, e - s)):
                continue
            scan = FileScan(ctx.m, path, e - s, ctx.blob, own_plane=needle)
            scan.feed(buf, s, e)
            if found is not None:
                whole = memoryview(buf)[s:e]
                open_archive(ctx, BytesReader(whole), path, found, opened, whole)
            scan.finish()
            opened.findings += scan.findings
            opened.held += scan.held
            opened.notes += scan.notes
        self.used = 0
        self.entries = []


def _ar(below, reader: Reader, path: str, opened: Opened) -> None:
    archive = ar.ArStream(reader)
    for member in archive:
        stream(below, archive, path + "!/" + member.name, opened)


def stream(ctx, reader: Reader, path: str, opened: Opened, found=(), data=None) -> None:
    """A stream that is a file of its own at ``path`` (a zip entry, a compressed file's
    content, an ``ar`` member), in ``ctx`` (the `layer.LayerScan` of its level): scanned with
    its own canary plane, and opened when it is an archive (``found``: its `detect` result, if
    known already; ``data``: the whole stream, when it is in memory, instead of ``reader``)."""
    if found == ():
        reader = PeekReader(reader, HEAD)
        found = detect(reader.head)
    scan = FileScan(ctx.m, path, -1 if data is None else len(data), ctx.blob, own_plane=True)
    try:
        if data is not None:
            scan.feed(data, 0, len(data))
            if found is not None:
                open_archive(ctx, BytesReader(data), path, found, opened, data)
        elif found is not None:
            tee = Tee(reader, scan)
            open_archive(ctx, tee, path, found, opened)
            tee.drain()
        else:
            buf = bytearray(CHUNK)
            view = memoryview(buf)
            while n := reader.readinto(view):
                reader.barrier()
                scan.feed(buf, 0, n)
                ctx.tick()
    finally:  # what was found before an error stands
        scan.finish()
        opened.findings += scan.findings
        opened.held += scan.held
        opened.notes += scan.notes
