"""The canary plane: every byte of a stream searched for the canaries' needles, whatever the
stream's structure, and each hit kept with its stream offset.

A stream is anything the audit reads from first byte to last: an archive or layout file as
stored, a compressed blob as stored, a decompressed layer, a nested archive's decompressed
bytes, a JSON document.  Its reader feeds it here chunk by chunk (`StreamSearch.feed`), in
order; a needle that straddles two chunks is found through the tail of the previous one.  The
hits wait (`pending`, by offset) until the structural reader that knows what lies where (tar
headers, member data, padding, what follows the end-of-archive marker) takes them
(`take`) and turns them into findings (`finding`): so the search never depends on what the
parser understood, and the parser only names what the search found.

Bounds, on any input: a needle's hits are thinned to one per `SPACING` bytes (a member's data
lies at least a 512-byte header after the previous member's, so every member holding a needle
keeps a hit of it), and at most `MAX_PENDING` hits wait at once; hits past it are counted
(`dropped`), not kept: by then the stream holds so many secrets that the verdict is a leak
whatever the rest says, and the report says that some were not listed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ..findings import Finding
from . import redaction, search
from .canaries import CanarySet

CONTEXT = 48  # bytes kept on either side of a hit, for its excerpt
SPACING = 512
MAX_PENDING = 1 << 14


@dataclass(slots=True)
class Hit:
    offset: int  # in the stream
    needle: int  # index into the canaries' needles
    window: bytes  # the bytes around it, from `window_offset` in the stream
    window_offset: int


class Needles:
    """The canaries' needles and the engine that finds them all in one pass over a range
    (hyperscan when installed, else ``bytes.find`` per needle); shared by every stream."""

    def __init__(self, canaries: CanarySet) -> None:
        self.canaries = canaries
        self.data = [n.data for n in canaries.needles]
        self.overlap = max((len(n) for n in self.data), default=1) - 1
        terms = [search.Term("needle", k, literal=n) for k, n in enumerate(self.data)]
        self.terms = terms
        self.engine = search.engine(terms)
        self.which = range(len(terms))

    def positions(self, buf, s: int, e: int) -> list[tuple[int, int]]:
        """(position, needle) of the needles in ``buf[s:e]``, by position: each needle's first
        hit, and every later one at least `SPACING` bytes after the last one kept."""
        found = self.engine.scan(buf, s, e, self.which)
        out = []
        for k in range(len(self.data)):
            positions = found[k]
            if positions is None:  # too many for the engine: found again, thinned as they come
                needle, positions, i = self.data[k], [], buf.find(self.data[k], s, e)
                while i >= 0:
                    positions.append(i)
                    i = buf.find(needle, i + SPACING, e)
            last = -SPACING
            for i in positions:
                if i - last >= SPACING:
                    out.append((i, k))
                    last = i
        out.sort()
        return out

    def label(self, k: int) -> str:
        return self.canaries.canaries[self.canaries.needles[k].canary].label

    def canary(self, k: int) -> int:
        return self.canaries.needles[k].canary

    def finding(
        self, hit: Hit, path: str, start: int, end: int, where: str, location: str, blob
    ) -> Finding:
        """A finding for ``hit`` in the region ``[start, end)`` of its stream (a file's data,
        a header...): the excerpt shows nothing outside the region."""
        needle = self.canaries.needles[hit.needle]
        base = hit.window_offset
        lo, hi = max(start, base) - base, min(end, base + len(hit.window)) - base
        at = hit.offset - base
        return Finding(
            "canary",
            path,
            f"{self.label(hit.needle)} found in {where} ({' or '.join(needle.encodings)})",
            excerpt=redaction.excerpt(
                hit.window,
                lo,
                max(lo, hi),
                at,
                at + len(needle.data),
                marker="[CANARY]",
                whole_token=True,
            ),
            location=location,
            blob=blob,
            offset=hit.offset - start,
        )


class StreamSearch:
    """The needles over one stream, fed in order; hits wait, by offset, to be taken."""

    def __init__(self, needles: Needles) -> None:
        self.needles = needles
        self.offset = 0  # of the next byte fed
        self.tail = b""  # the last bytes fed, for a needle across chunks
        self.pending: deque[Hit] = deque()
        self.dropped = 0

    def feed(self, buf, s: int, e: int) -> None:
        """Search ``buf[s:e]``, the stream's next bytes."""
        if e <= s:
            return
        n = self.needles
        if not n.data:
            self.offset += e - s
            return
        tail = self.tail
        if tail:  # a needle that starts in the tail and ends in this chunk
            joint = tail + bytes(buf[s : s + n.overlap])
            base = self.offset - len(tail)
            for i, k in n.positions(joint, 0, len(joint)):
                if i < len(tail) < i + len(n.data[k]):
                    self._add(Hit(base + i, k, joint, base))
        base = self.offset - s
        for i, k in n.positions(buf, s, e):
            w = max(s, i - CONTEXT)
            window = bytes(buf[w : min(e, i + len(n.data[k]) + CONTEXT)])
            self._add(Hit(base + i, k, window, base + w))
        keep = n.overlap
        if e - s >= keep:
            self.tail = bytes(buf[e - keep : e]) if keep else b""
        else:
            self.tail = (tail + bytes(buf[s:e]))[-keep:]
        self.offset += e - s

    def _add(self, hit: Hit) -> None:
        if len(self.pending) >= MAX_PENDING:
            self.dropped += 1
        else:
            self.pending.append(hit)

    def skip(self, n: int) -> None:
        """``n`` bytes of the stream go by unseen (another reader searches them, whole)."""
        self.offset += n
        self.tail = b""

    def take(self, upto: int) -> list[Hit]:
        """The waiting hits that start before ``upto``, in order."""
        pending = self.pending
        out = []
        while pending and pending[0].offset < upto:
            out.append(pending.popleft())
        return out


def plane_findings(
    needles: Needles, plane: StreamSearch, path: str, start: int, end: int, where, location, blob,
    seen: set | None = None,
) -> list[Finding]:  # fmt: skip
    """One finding per canary for the waiting hits of ``plane`` before ``end`` (a region that
    starts at ``start``: a file that is a stream of its own, a document); ``seen`` (canary
    indexes already reported for the region) is updated."""
    seen = set() if seen is None else seen
    out = []
    for hit in plane.take(end):
        canary = needles.canary(hit.needle)
        if canary not in seen:
            seen.add(canary)
            out.append(needles.finding(hit, path, start, end, where, location, blob))
    return out
