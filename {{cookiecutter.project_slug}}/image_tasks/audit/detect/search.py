"""Where the search terms occur in a byte range: one pass for all of them, or one per term.

The terms are the canaries' needles, the pattern rules' keywords and locators, and the
fragments of line-wrapped base64.  Two engines give the same positions (start offsets, sorted):

* `HyperscanEngine`, when the optional ``hyperscan`` wheel is installed: every term in one
  pass over the range (Intel's multi-pattern matcher, several GB/s), so a buffer of small
  files costs one call whatever the number of terms;
* `StdlibEngine`: ``bytes.find`` per literal term, ``re.finditer`` per locator.

A term with more than `MAX_HITS` hits in a range is marked None (degenerate or hostile data):
its callers search it file by file instead, which bounds memory.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left
from dataclasses import dataclass

MAX_HITS = 4096  # per term and range


@dataclass(frozen=True)
class Term:
    kind: str  # "needle", "rule" or "fragment"
    index: int  # into the canaries' needles, PATTERN_RULES or the fragments
    literal: bytes | None = None
    locator: re.Pattern[bytes] | None = None

    def find_all(self, buf, s: int, e: int, limit: int = MAX_HITS) -> list[int] | None:
        """This term's positions in ``buf[s:e]`` (None past ``limit``), by the stdlib."""
        out: list[int] = []
        if self.literal is not None:
            i = buf.find(self.literal, s, e)
            while i >= 0:
                if len(out) >= limit:
                    return None
                out.append(i)
                i = buf.find(self.literal, i + 1, e)
            return out
        # every start, overlapping ones too (finditer would resume after a match, and miss a
        # start inside it where the rule's regex matches though it failed at the first one)
        m = self.locator.search(buf, s, e)
        while m is not None:
            if len(out) >= limit:
                return None
            out.append(m.start())
            m = self.locator.search(buf, m.start() + 1, e)
        return out


NOT_SEARCHED = ()  # (a term a range was not searched for: its files search it themselves)


class StdlibEngine:
    name = "stdlib"
    one_pass = False  # terms are searched one by one: callers search only the ones they need

    def __init__(self, terms: list[Term]) -> None:
        self.terms = terms

    def scan(self, buf, s: int, e: int, which) -> list:
        found: list = [NOT_SEARCHED] * len(self.terms)
        for t in which:
            found[t] = self.terms[t].find_all(buf, s, e)
        return found

    def probe(self, buf, s: int, e: int) -> bool:
        return True  # (no cheap answer: the caller searches)


class HyperscanEngine:
    name = "hyperscan"
    one_pass = True  # every term in one pass: callers take all of them at once

    def __init__(self, terms: list[Term], hyperscan) -> None:
        self.terms = terms
        self.hs = hyperscan
        self.db = hyperscan.Database()
        expressions = [
            _escape(t.literal) if t.literal is not None else t.locator.pattern for t in terms
        ]
        flags = [0 if t.literal is not None else hyperscan.HS_FLAG_SOM_LEFTMOST for t in terms]
        ids = list(range(len(terms)))
        self.db.compile(expressions=expressions, ids=ids, elements=len(terms), flags=flags)
        # the probe needs no positions: without start-of-match tracking, the same terms scan
        # 3.4 times faster (1.69 against 0.49 GB/s of the Ray image's text files)
        self.probe_db = hyperscan.Database()
        self.probe_db.compile(
            expressions=expressions,
            ids=ids,
            elements=len(terms),
            flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(terms),
        )
        self.lengths = [len(t.literal) if t.literal is not None else -1 for t in terms]
        self.tracks_starts = any(t.literal is None for t in terms)

    def scan(self, buf, s: int, e: int, which=None) -> list:
        found: list = [[] for _ in self.terms]
        if self.tracks_starts and not self.probe(buf, s, e):
            return found  # (most ranges hold no term: a probe is cheaper than tracking starts)
        lengths = self.lengths

        def on_match(term: int, start: int, end: int, flags: int, context) -> bool:
            positions = found[term]
            if positions is None:
                return False
            if len(positions) >= MAX_HITS:
                found[term] = None
                return False
            n = lengths[term]
            positions.append(s + (end - n if n >= 0 else start))
            return False

        self.db.scan(memoryview(buf)[s:e], match_event_handler=on_match)
        for positions in found:
            if positions:
                positions.sort()  # (matches come by end offset)
        return found

    def probe(self, buf, s: int, e: int) -> bool:
        """Does any term occur in ``buf[s:e]``?  The scan stops at the first match: most text
        files hold none, and cost one call."""
        try:
            self.probe_db.scan(memoryview(buf)[s:e], match_event_handler=_stop)
        except self.hs.ScanTerminated:
            return True
        return False


def _stop(term: int, start: int, end: int, flags: int, context) -> bool:
    return True


def _escape(literal: bytes) -> bytes:
    return b"".join(bytes([c]) if chr(c).isalnum() and c < 128 else b"\\x%02x" % c for c in literal)


def engine(terms: list[Term]):
    """The fastest engine at hand for ``terms``."""
    try:
        import hyperscan
    except ImportError:
        return StdlibEngine(terms)
    if not terms:
        return StdlibEngine(terms)
    return _compiled(tuple(terms), hyperscan)


@functools.lru_cache(maxsize=8)
def _compiled(terms: tuple[Term, ...], hyperscan) -> HyperscanEngine:
    """Each set of terms compiled once a process: the workers, forked once this process has
    compiled them, start scanning at once (a compile costs 20-40 ms, each worker's)."""
    return HyperscanEngine(list(terms), hyperscan)


class Hits:
    """Term positions found in ``buf[lo:hi]``, asked for by the sub-range of one file."""

    def __init__(self, engine, buf, lo: int, hi: int, which) -> None:
        self.engine = engine
        self.buf = buf
        self.found = engine.scan(buf, lo, hi, which)
        self._merged: dict[str, list[int] | None] = {}

    def any(self, kind: str, s: int, e: int) -> bool:
        """Whether a term of ``kind`` may start in ``[s, e)``: one bisect per file, so that
        most files (which hold no candidate at all) cost no more than that."""
        merged = self._merged.get(kind, ())
        if merged == ():
            merged = self._merged[kind] = self._merge(kind)
        if merged is None:
            return True  # (a term not searched, or too frequent: the file searches it)
        j = bisect_left(merged, s)
        return j < len(merged) and merged[j] < e

    def any_term(self, s: int, e: int) -> bool:
        """`any` for every kind of term at once."""
        return self.any("", s, e)

    def _merge(self, kind: str) -> list[int] | None:
        out: list[int] = []
        for t, term in enumerate(self.engine.terms):
            if term.kind == kind or not kind:
                positions = self.found[t]
                if positions is None or positions is NOT_SEARCHED:
                    return None
                out += positions
        out.sort()
        return out

    def positions(self, term: int, s: int, e: int) -> list[int]:
        """``term``'s positions that start in ``[s, e)`` (literals: that end by ``e`` too)."""
        positions = self.found[term]
        if positions is None or positions is NOT_SEARCHED:  # too many, or not searched here
            return self.engine.terms[term].find_all(self.buf, s, e, limit=1 << 62)
        if not positions:
            return positions  # (none in the whole range)
        t = self.engine.terms[term]
        last = e - len(t.literal) if t.literal is not None else e - 1
        out = []
        j = bisect_left(positions, s)
        while j < len(positions) and positions[j] <= last:
            out.append(positions[j])
            j += 1
        return out
