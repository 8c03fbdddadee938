"""One file's scan: fed its data piece by piece (`FileScan.feed`), then finished (`finish`).

The object owns everything a file's scan carries from piece to piece: which pattern secrets
were found already, the tail of the previous piece (so that a pattern may straddle two
pieces), the per-rule candidate counts, the head kept for the credential-file rules, and the
sha256 that the ownership check compares with a RECORD.  Canaries are not searched here but
over the whole stream the file lies in (`detect.stream_search`).

Policy (see `rules`): in a package tree, and unless ``strict``, findings of the generic rules
(``scope="outside-packages"``, and line-wrapped base64) are *held* (`ownership.Candidate`)
until the layer's and the lower layers' records say whether a package manager owns the file.
"""

from __future__ import annotations

import hashlib

from ..detect import credfiles, ownership
from ..detect.matching import OUTSIDE_PACKAGES, Matcher
from ..detect.stream_search import StreamSearch, plane_findings
from ..findings import Finding
from ..image.tar import printable
from ..rules.scope import in_package_tree

TEXT_SNIFF = 8192
SMALL = 1 << 20  # files up to this size are read whole from the reader's buffer
MAX_FINDINGS_PER_FILE = 20
OVERLAP = 9216  # carried between pieces of a large text file (longest rule match + slack)


def is_text(buf, s: int, e: int) -> bool:
    """No NUL byte in the first 8 KiB (the heuristic of grep and git)."""
    return buf.find(b"\0", s, s + TEXT_SNIFF if e - s > TEXT_SNIFF else e) < 0


class FileScan:
    """The scan of one file of ``size`` bytes at ``path`` (normalised), from ``blob``.

    A file that is a member of a tar stream has its canaries found by that stream's plane
    (`layer.LayerScan`); a file that is a stream of its own (a nested archive's member, a
    decompressed file, an opaque blob) owns one: ``own_plane``, whose hits `finish` turns into
    findings."""

    def __init__(
        self, matcher: Matcher, path: str, size: int, blob, *, keep: int = 0, own_plane=False
    ) -> None:
        self.m = matcher
        self.path = path
        self.shown = "/" + printable(path)
        self.size = size
        self.blob = blob
        self.packaged = not matcher.strict and in_package_tree(path)
        self.file_rules = credfiles.rules_for(path, size)
        # the head of the file is kept for the credential-file rules, and ``keep`` bytes of it
        # for the caller (a package record)
        self.keep = max(keep, credfiles.COLLECT_LIMIT if self.file_rules else 0)
        self.head = bytearray()
        self.findings: list[Finding] = []
        self.held: list[Finding] = []
        self.notes: list[str] = []
        self.sha256 = None
        self.text: bool | None = None
        self.plane = StreamSearch(matcher.needles) if own_plane else None
        self.canaries: set[int] = set()  # (the canaries its own plane found)
        self.read = 0  # bytes fed so far
        self._found_patterns: set = set()
        self._wrapped: set[int] = set()
        self._counts: dict[str, int] = {}
        self._carry = b""  # the end of the previous piece, for patterns across the boundary

    def feed(self, buf, s: int, e: int, hits=None) -> None:
        """Scan ``buf[s:e]``, the next piece of the file.  ``hits``: the pattern terms'
        positions of a range that holds it, when the caller searched one already (a batch of
        small files, `nested.Batch`)."""
        if self.text is None:
            self.text = is_text(buf, s, e)
        self.read += e - s
        if len(self.head) < self.keep:
            self.head += buf[s : min(e, s + self.keep - len(self.head))]
        if self.plane is not None:
            self.plane.feed(buf, s, e)
        if not self.text:
            return  # (the pattern rules read text files only)
        if self._carry:  # the carried tail lets matches span the boundary
            data = self._carry + bytes(buf[s:e])
            self._patterns(data, 0, len(data), self.m.hits(data, 0, len(data)))
        else:
            self._patterns(buf, s, e, hits if hits is not None else self.m.hits(buf, s, e))
        # a package-tree text file's sha256, for the RECORD check: from the first piece of
        # a large file; a small one's only when it holds findings (the cheap cases)
        if self.packaged and (self.sha256 is not None or self.held or e - s < self.size):
            if self.sha256 is None:
                self.sha256 = hashlib.sha256()
            self.sha256.update(buf[s:e])
        self._carry = bytes(buf[max(s, e - OVERLAP) : e])

    def _patterns(self, buf, s: int, e: int, hits) -> None:
        m = self.m
        found = m.pattern_scan(
            buf, s, e, hits, self.shown, self.blob, self._found_patterns, self._counts, self.notes
        )
        if m.fragments and not self.packaged:  # (line-wrapped base64: outside package trees)
            found += m.wrapped(buf, s, e, self.path, self.blob, self._wrapped, hits)
        for finding in found:
            # generic findings wait, in a package tree, for the records to say whether a
            # package manager owns the file
            held = self.packaged and finding.rule in OUTSIDE_PACKAGES
            (self.held if held else self.findings).append(finding)

    def finish(self) -> None:
        """Turn the own plane's hits into findings, apply the credential-file rules to the
        head and cap the file's findings."""
        if self.size < 0:  # (a stream whose size was not told: as read)
            self.size = self.read
        if self.plane is not None:
            self.findings += plane_findings(
                self.m.needles, self.plane, self.shown, 0, self.read, "file content", "file",
                self.blob, self.canaries,
            )  # fmt: skip
            if self.plane.dropped:
                self.notes.append(f"{self.shown}: more canary hits than are listed")
        for rule in self.file_rules:
            found, notes = credfiles.check(
                rule, bytes(self.head), self.shown, self.size, self.blob, self.m.scrub
            )
            self.findings += found
            self.notes += notes
        for findings in (self.findings, self.held):
            if len(findings) > MAX_FINDINGS_PER_FILE:
                extra = len(findings) - MAX_FINDINGS_PER_FILE
                del findings[MAX_FINDINGS_PER_FILE:]
                self.notes.append(f"{self.shown}: {extra} more finding(s) in this file not listed")

    def candidate(self) -> ownership.Candidate | None:
        """The held findings, for settling by ownership (None when nothing is held)."""
        if not self.held:
            return None
        digest = self.sha256.digest() if self.sha256 is not None else None
        return ownership.Candidate(
            self.path,
            self.size,
            ownership.sha256_b64(digest) if digest is not None else None,
            self.held,
        )
