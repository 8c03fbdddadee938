"""A layer's filesystem, member by member: names, links, pax records, deletions, files.

A layer is read once (`image.tar.TarStream`).  Members that fit in the reader's buffer (almost
all of them) have their canaries found by one search per needle over the whole buffer
(`BufferIndex`), mapped back to the members; larger members are fed to their `FileScan` piece
by piece.  What a layer yields (`LayerResult`) is small: findings, the findings held for the
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
from ..errors import AuditError
from ..findings import Finding
from ..image.tar import Member, TarStream, printable
from ..rules.patterns import PATTERN_RULES
from ..rules.scope import in_package_tree
from . import nested
from .file import ENCODED_BINARY_LIMIT, FileScan, is_text


@dataclass
class LayerResult:
    """What one layer blob yielded."""

    findings: list[Finding] = field(default_factory=list)
    whiteouts: set[str] = field(default_factory=set)  # deleted paths
    opaque: set[str] = field(default_factory=set)  # directories whose lower content is hidden
    files: int = 0
    bytes: int = 0
    notes: list[str] = field(default_factory=list)
    # what the layer's package records list, by key (`ownership.keyed`)
    owned: dict[int, ownership.Entry] = field(default_factory=dict)
    candidates: list[ownership.Candidate] = field(default_factory=list)
    tree: ownership.TreeFiles = field(default_factory=ownership.TreeFiles)  # (their sizes)


class BufferIndex:
    """The term positions of the reader's current buffer, searched once for all the small
    files in it (`matching.Matcher.hits`).

    Small members sit many to a buffer; one search per term over the whole buffer (one pass
    for all terms with hyperscan) replaces one per term and member, and runs the fast search
    on a large haystack instead of many short ones.  A hit counts for a member only when it
    lies wholly inside the member's data, as with a per-member search.
    """

    def __init__(self, matcher: Matcher) -> None:
        self.m = matcher
        self.key = None  # (stream, generation) the hits belong to
        self.hits = None

    def for_member(self, stream: TarStream, buf, s: int):
        """The hits of the buffer the member starting at ``buf[s]`` lies in."""
        if self.key != (stream, stream.generation):
            self.hits = self.m.hits(buf, s, stream.end)
            self.key = (stream, stream.generation)
        return self.hits


class LayerScan:
    """Scans the members of one tar stream: a layer (depth 0) or a nested tar inside one.

    ``prefix`` is prepended to the paths of a nested tar's members (``/opt/x.tar.gz!/``);
    a nested tar has no deletions and no package records of its own.
    """

    def __init__(
        self, matcher: Matcher, blob, budgets: nested.Budgets, *, deadline=None, depth=0, prefix=""
    ) -> None:
        self.m = matcher
        self.blob = blob
        self.budgets = budgets
        self.deadline = deadline
        self.depth = depth
        self.prefix = prefix
        self.index = BufferIndex(matcher)
        self.result = LayerResult()
        self.held: list[Finding] = []  # a nested tar's held findings, for its outer file
        self.progress = None  # called with the stream offset now and then

    def child(self, budgets: nested.Budgets, prefix: str) -> LayerScan:
        """The scan of what is inside an archive in this one, one level down."""
        depth = self.depth + 1
        return LayerScan(
            self.m, self.blob, budgets, deadline=self.deadline, depth=depth, prefix=prefix
        )

    def scan(self, stream: TarStream) -> LayerResult:
        small = min(len(stream.buf), ENCODED_BINARY_LIMIT)
        for member in stream:
            if not member.index & 1023:
                self._tick(stream)
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
        if not self.depth:  # the files this layer's own records list: settled here
            result = self.result
            found, result.candidates, result.tree = ownership.settle_own(
                result.candidates, result.tree, result.owned
            )
            for f in found:
                f.blob = self.blob
            result.findings += found
        return self.result

    def _tick(self, stream: TarStream) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise AuditError(
                "the audit ran out of time while reading a layer; the image is unusually "
                "large or hostile."
            )
        if self.progress is not None:
            self.progress(stream.offset)

    def _path(self, member: Member) -> str:
        return self.prefix + member.name

    def _names(self, member: Member) -> None:
        name = self.m.name_filter
        if name is not None and name.search(member.raw_name):
            shown = "/" + printable(self._path(member))
            self.result.findings += self.m.text_canaries(
                member.raw_name, shown, "a file name", "name", self.blob
            )
        if member.pax is not None:
            self.result.findings += scan_pax(self.m, member, self.blob, self._path(member))

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
        shown = "/" + printable(self._path(member))
        where = f"a {member.kind} target"
        self.result.findings += self.m.text_canaries(link, shown, where, "link", self.blob)
        self.result.findings += self.m.pattern_findings(
            link, shown, where, "link", self.blob, URL_RULES
        )

    def _file(self, member: Member, stream: TarStream, small: int) -> None:
        path = self._path(member)
        record = not self.depth and ownership.is_record(path)
        inner = nested.kind_of(path, self.depth, member.size)
        if member.size <= small:
            buf, s, e = stream.whole()
            head = buf[s : min(e, s + 512)] if inner else b""
            if inner and nested.unaffordable(self, path, inner, head, member.size):
                inner = None  # (counted as skipped: its stored bytes are scanned as any file's)
            hits = self.index.for_member(stream, buf, s)
            if not (record or inner or credfiles.rules_for(path, e - s) or _worth(hits, buf, s, e)):
                # most small files: no term that applies to them, nothing to read them for
                if not self.depth and not self.m.strict and in_package_tree(path):
                    self.result.tree.add(path, member.size)
                return
        keep = ownership.RECORD_LIMIT if record else nested.keep(inner, member.size)
        scan = FileScan(self.m, path, member.size, self.blob, keep=keep)
        if member.size <= small:
            scan.feed(buf, s, e, hits)
        else:
            for buf, s, e in stream.pieces():
                scan.feed(buf, s, e)
        scan.finish()
        result = self.result
        result.findings += scan.findings
        result.notes += scan.notes
        if inner:
            opened = nested.open_archive(self, scan, inner)
            result.findings += opened.findings
            scan.held += opened.held
            result.notes += opened.notes
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


def _worth(hits, buf, s: int, e: int) -> bool:
    """Does a small file hold a term that applies to it: a needle, or (in a text file, the
    only kind the pattern rules read) a rule's or a fragment's?"""
    return hits.any("needle", s, e) or (hits.any_term(s, e) and is_text(buf, s, e))


def scan_pax(matcher: Matcher, member: Member, blob, path: str | None = None) -> list:
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
        findings += matcher.text_canaries(data, shown, where, location, blob)
        if value.translate(None, b"0123456789.-").strip():  # not a number (mtime, uid...)
            findings += matcher.pattern_findings(data, shown, where, location, blob, rules)
    return findings
