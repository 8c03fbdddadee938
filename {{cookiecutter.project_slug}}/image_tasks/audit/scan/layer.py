"""A layer's filesystem, member by member: names, links, pax records, deletions, files; and
every byte of the layer's stream searched for the canaries.

A layer is read once (`image.tar.TarStream`).  Its canary plane (`detect.stream_search`) sees
every byte of the stream as it enters the reader's buffers, headers, padding and what follows
the end-of-archive marker included, whatever the parser makes of them; each member then names
the hits that lie in it (`_Span`): its headers, its data (a finding on the file), the padding
after it, or the stream itself where a hit runs across a boundary or lies after the last member.
The structural plane beside it reads what the parser understood: names and link targets as an
engine resolves them, pax records, credential files, pattern rules (a small text member is
probed for their terms at once, `matching.Matcher.probe`, and given a file scan only when it
holds one; a large member is scanned piece by piece), package records,
deletions, and archives inside files (`nested`).

What a layer yields (`LayerResult`) is small: findings, gaps, the findings held for the
ownership check with the package-tree files' sizes, the package records, deletions, counts.
Files the layer's own records list are settled when it ends (`ownership.settle_own`), in the
worker process that read it; only the rest wait for the layers below.
Layer numbers, history steps and deletions by later layers are resolved once the whole image
is known (`attribution`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..detect import credfiles, ownership
from ..detect.matching import URL_RULES, Matcher
from ..detect.stream_search import StreamSearch
from ..errors import OutOfTime
from ..findings import Finding, Gap
from ..image.readers import BytesReader
from ..image.tar import Member, TarStream, printable
from ..rules.patterns import PATTERN_RULES
from ..rules.scope import in_package_tree
from . import nested
from .file import SMALL, FileScan, is_text


@dataclass
class LayerResult:
    """What one layer blob yielded."""

    findings: list[Finding] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    whiteouts: set[str] = field(default_factory=set)  # deleted paths
    opaque: set[str] = field(default_factory=set)  # directories whose lower content is hidden
    files: int = 0
    bytes: int = 0
    notes: list[str] = field(default_factory=list)
    # what the layer's package records list, by key (`ownership.keyed`)
    owned: dict[int, ownership.Entry] = field(default_factory=dict)
    candidates: list[ownership.Candidate] = field(default_factory=list)
    tree: ownership.TreeFiles = field(default_factory=ownership.TreeFiles)  # (their sizes)


@dataclass(slots=True)
class _Span:
    """Where a member lies in its stream, for naming the canary hits there."""

    shown: str  # its path as reported
    header: int  # offset of its first header block
    data: int  # offset of its data
    end: int  # offset just after its data
    named: set  # canaries its name, link or pax records were reported for already
    found: set  # (where, canary) reported for it from the plane


class HitNamer:
    """Names the canary plane's hits of one tar stream by where they lie: in a member's
    headers, its data (a finding on the file), the padding after it, across a boundary, or
    after the end-of-archive marker.  ``data_elsewhere``: the members' data is searched by
    another stream's plane (the outer archive's blobs), so hits there are left to it."""

    def __init__(self, matcher: Matcher, stream_path: str, blob, data_elsewhere=False) -> None:
        self.needles = matcher.needles
        self.plane = StreamSearch(matcher.needles)
        self.stream_path = stream_path
        self.blob = blob
        self.data_elsewhere = data_elsewhere
        self.findings: list[Finding] = []
        self.span: _Span | None = None
        self._after: set = set()

    def member(self, member: Member, shown: str) -> _Span:
        """A member was read: the hits before it are named, and its span begins."""
        self._name(member.header_offset)
        end = member.data_offset + member.size
        self.span = _Span(shown, member.header_offset, member.data_offset, end, set(), set())
        return self.span

    def end(self, stream: TarStream) -> tuple[list[Finding], list[str]]:
        """Every hit the plane holds is named (after `TarStream.finish`: the stream read to
        its end; else, after an error, as far as it was read): the findings named since the
        last call, and the notes to add."""
        self._name(self.plane.offset, stream.end_offset)
        found, self.findings = self.findings, []
        if self.plane.dropped:
            note = f"{self.stream_path}: {self.plane.dropped} more canary hit(s) than are listed"
            return found, [note]
        return found, []

    def _name(self, upto: int, marker: int | None = None) -> None:
        """Name the hits before ``upto`` (the next member's first header, or the end of the
        stream): in the last member (`span`), or after the end-of-archive ``marker``."""
        hits = self.plane.take(upto)
        needles = self.needles
        span = self.span
        for hit in hits:
            canary = needles.canary(hit.needle)
            end = hit.offset + len(needles.data[hit.needle])
            if marker is not None and hit.offset >= marker:
                key, where, location = (
                    "after",
                    "the stream after its end-of-archive marker",
                    "stream",
                )
                path, start, stop = self.stream_path, marker, upto
            elif span is None:
                key, where, location = "before", "the stream's first bytes", "stream"
                path, start, stop = self.stream_path, 0, upto
            elif hit.offset < span.data:
                if canary in span.named and end <= span.data:
                    continue  # (its name or a pax record: reported as such)
                crosses = end > span.data
                key, location = "header", "stream" if crosses else "header"
                where = "its tar headers" + (" and into its data" if crosses else "")
                path, start, stop = span.shown, span.header, span.data
            elif hit.offset < span.end:
                crosses = end > span.end
                if self.data_elsewhere and not crosses:
                    continue
                key, location = ("across", "stream") if crosses else ("data", "file")
                where = "its data and what follows it" if crosses else "file content"
                path, start, stop = span.shown, span.data, span.end
            else:
                key, where, location = "padding", "the padding after its data", "padding"
                path, start, stop = span.shown, span.end, upto
            seen = span.found if span is not None and key != "after" else self._after
            if (key, canary) in seen:
                continue
            seen.add((key, canary))
            if location != "file":  # (the bytes around it, whatever region they are in)
                start, stop = min(start, hit.offset), max(stop, end)
            self.findings.append(
                needles.finding(hit, path, start, stop, where, location, self.blob)
            )


class LayerScan:
    """Scans the members of one tar stream: a layer (depth 0) or a nested tar inside one.

    ``prefix`` is prepended to the paths of a nested tar's members (``opt/x.tar.gz!/``);
    a nested tar has no deletions and no package records of its own.  ``plane``: the canary
    plane the stream feeds (a tap of the `TarStream`); `child` makes the scan of an archive's
    contents one level down, with a plane of its own.
    """

    def __init__(self, matcher: Matcher, blob, *, deadline=None, depth=0, prefix="") -> None:
        self.m = matcher
        self.blob = blob
        self.deadline = deadline
        self.depth = depth
        self.prefix = prefix
        self.hits = HitNamer(matcher, self._stream_path(), blob)
        self.plane = self.hits.plane  # (the tap the stream feeds)
        self.result = LayerResult()
        self.held: list[Finding] = []  # a nested tar's held findings, for its outer file
        self.progress = None  # called with the stream offset now and then
        self._span: _Span | None = None

    def child(self, prefix: str) -> LayerScan:
        """The scan of what is inside an archive in this one, one level down."""
        return LayerScan(
            self.m, self.blob, deadline=self.deadline, depth=self.depth + 1, prefix=prefix
        )

    def tick(self) -> None:
        """Raise `OutOfTime` past the audit's deadline."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise OutOfTime("the audit's time limit passed before it was read to its end")

    def scan(self, stream: TarStream) -> LayerResult:
        try:
            self._members(stream)
            stream.finish(self.tick)
        finally:  # (after an error too: the hits read so far are witnesses)
            found, notes = self.hits.end(stream)
            self.result.findings += found
            self.result.notes += notes
        if not self.depth:  # the files this layer's own records list: settled here
            result = self.result
            found, result.candidates, result.tree = ownership.settle_own(
                result.candidates, result.tree, result.owned
            )
            for f in found:
                f.blob = self.blob
            result.findings += found
        return self.result

    def _members(self, stream: TarStream) -> None:
        small = min(len(stream.buf), SMALL)
        for member in stream:
            if not member.index & 1023:
                self.tick()
                if self.progress is not None:
                    self.progress(stream.offset)
            self._span = self.hits.member(member, "/" + printable(self._path(member)))
            self._names(member)
            base = member.name.rpartition("/")[2]
            if base.startswith(".wh."):
                self._whiteout(member.name, base)
            elif member.kind in ("symlink", "hardlink"):
                self._link(member)
            elif member.kind == "file":
                self.result.files += 1
                self.result.bytes += member.size
                if member.size:
                    self._file(member, stream, small)

    def _stream_path(self) -> str:
        return "/" + printable(self.prefix[:-2]) if self.prefix else "<layer>"

    def _worth(self, buf, s: int, e: int) -> bool:
        """Does a small file hold a term that applies to it: (in a text file, the only kind
        the pattern rules read) a rule's or a fragment's?  (Its canaries: the plane.)"""
        return is_text(buf, s, e) and self.m.probe(buf, s, e)

    def _path(self, member: Member) -> str:
        return self.prefix + member.name

    def _names(self, member: Member) -> None:
        """Canaries in the member's name as stored and as an engine resolves it, and in its
        pax records (these bytes are in the plane too; this reading names them exactly)."""
        named = self._span.named
        name = self.m.name_filter
        if name is not None:
            path = self._path(member).encode("utf-8", "surrogateescape")
            for raw in (member.raw_name, path) if path != member.raw_name else (path,):
                if name.search(raw):
                    self.result.findings += self.m.text_canaries(
                        raw, self._span.shown, "a file name", "name", self.blob, named
                    )
                    break
        if member.pax is not None:
            self.result.findings += scan_pax(self.m, member, self.blob, self._path(member), named)

    def _whiteout(self, path: str, base: str) -> None:
        if self.depth:
            return  # a whiteout inside a nested tar deletes nothing
        parent = path.rpartition("/")[0]
        if base == ".wh..wh..opq":
            self.result.opaque.add(parent)
        else:
            self.result.whiteouts.add((parent + "/" if parent else "") + base[4:])

    def _link(self, member: Member) -> None:
        link = member.linkname.encode("utf-8", "surrogateescape")
        shown = self._span.shown
        where = f"a {member.kind} target"
        self.result.findings += self.m.text_canaries(
            link, shown, where, "link", self.blob, self._span.named
        )
        self.result.findings += self.m.pattern_findings(
            link, shown, where, "link", self.blob, URL_RULES
        )

    def _file(self, member: Member, stream: TarStream, small: int) -> None:
        path = self._path(member)
        record = not self.depth and ownership.is_record(path)
        result = self.result
        if member.size <= small:
            buf, s, e = stream.whole()
            found = nested.detect_in(buf, s, e)
            if not (record or found or credfiles.rules_for(path, e - s) or self._worth(buf, s, e)):
                # most small files: no pattern term in them and no rule by path; nothing to
                # read them for (their canaries: the plane)
                if not self.depth and not self.m.strict and in_package_tree(path):
                    result.tree.add(path, member.size)
                return
        else:
            found = nested.detect(stream.peek(nested.HEAD))
        keep = ownership.RECORD_LIMIT if record else 0
        scan = FileScan(self.m, path, member.size, self.blob, keep=keep)
        opened = nested.Opened()
        if found is None and member.size <= small:
            scan.feed(buf, s, e)
        elif found is None:
            for buf, s, e in stream.pieces():
                scan.feed(buf, s, e)
                self.tick()
        else:  # an archive: its stored bytes to the scan as they are read, its contents opened
            if member.size <= small:
                scan.feed(buf, s, e)
                whole = memoryview(buf)[s:e]
                nested.open_archive(self, BytesReader(whole), path, found, opened, whole)
            else:
                tee = nested.Tee(stream, scan)
                nested.open_archive(self, tee, path, found, opened)
                tee.drain()
        scan.finish()
        result.findings += scan.findings + opened.findings
        result.notes += scan.notes + opened.notes
        result.gaps += opened.gaps
        scan.held += opened.held
        if scan.packaged and not self.depth:
            result.tree.add(path, member.size)
            candidate = scan.candidate()
            if candidate is not None:
                result.candidates.append(candidate)
        else:  # a nested tar's files: held for the archive's own file
            self.held += scan.held
        if record:
            if member.size > ownership.RECORD_LIMIT:
                result.notes.append(
                    f"{scan.shown}: a package record larger than {ownership.RECORD_LIMIT} "
                    "bytes; only its head was read"
                )
            result.owned.update(
                ownership.keyed(path, ownership.parse_record(path, bytes(scan.head)))
            )


def scan_pax(
    matcher: Matcher, member: Member, blob, path: str | None = None, seen: set | None = None
) -> list:
    """Canaries and pattern rules in every pax record of a member (xattrs, uname, comment,
    vendor keys...), key and value; a record that became the member's name or link target is
    left to the name and link checks.  Location: ``pax:KEY``."""
    findings: list[Finding] = []
    used = (member.raw_name, member.linkname.encode("utf-8", "surrogateescape"))
    name = member.name if path is None else path
    shown = "/" + printable(name)
    rules = PATTERN_RULES
    if not matcher.strict and in_package_tree(name):
        rules = tuple(r for r in PATTERN_RULES if r.scope != "outside-packages")
    for key, value in member.pax or ():
        if value in used and key in (b"path", b"linkpath", b"GNU.sparse.name"):
            continue
        record = printable(key.decode("utf-8", "surrogateescape"))
        if len(record) > 120:
            record = record[:117] + "..."
        location = f"pax:{record}"
        where = f"the pax record {record}"
        data = key + b"=" + value
        findings += matcher.text_canaries(data, shown, where, location, blob, seen)
        if value.translate(None, b"0123456789.-").strip():  # not a number (mtime, uid...)
            findings += matcher.pattern_findings(data, shown, where, location, blob, rules)
    return findings
