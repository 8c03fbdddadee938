"""Content matching: secret patterns over a range of a buffer, and canaries in short texts.

Everything here works on ``(buffer, start, end)`` without copying, so the same code serves a
whole small file in the reader's buffer, a piece of a large one, a decompressed nested member
and a short text (a name, a pax record, a config string).  A `Matcher` holds what every scan of
an audit shares: the canaries (their needles, searched over every byte of every stream by
`stream_search`; their variants, searched in short texts here), the scrubber that learns each
secret it reports, and the policy switch ``strict``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..findings import Finding
from ..image.tar import printable
from ..rules.model import PatternRule
from ..rules.patterns import PATTERN_RULES
from . import redaction, search
from .canaries import CanarySet
from .checks import real_match, variable
from .search import Term
from .stream_search import Needles

MAX_CANDIDATES = 200_000  # per rule and file: bounds the time of pathological files
MAX_FRAGMENT_HITS = 64  # per line-wrapped base64 fragment and text: hits verified
OUTSIDE_PACKAGES = frozenset(r.id for r in PATTERN_RULES if r.scope == "outside-packages")
URL_RULES = tuple(r for r in PATTERN_RULES if r.id == "url-credentials")  # (link targets)


class Matcher:
    """Pattern rules applied to byte ranges, canaries to short texts; findings carry their
    ``blob``."""

    def __init__(self, canaries: CanarySet, scrub: redaction.Scrubber, strict: bool = False):
        self.canaries = canaries
        self.scrub = scrub
        self.strict = strict
        self.needles = Needles(canaries)  # (for every stream's canary plane)
        self.fragments = canaries.fragments
        self.name_filter = (
            re.compile(b"|".join(re.escape(n) for n in self.needles.data))
            if self.needles.data
            else None
        )
        for secret in canaries.secrets():
            scrub.add(secret)
        # the pattern rules' terms (the canaries' needles are the planes', `stream_search`):
        # searched in text files alone, the only kind the pattern rules read
        terms: list[Term] = []
        self.rule_terms: list[list[int]] = []
        for r, rule in enumerate(PATTERN_RULES):
            ids = []
            for keyword in rule.keywords:
                ids.append(len(terms))
                terms.append(Term("rule", r, literal=keyword))
            for locator in rule.locators:
                ids.append(len(terms))
                terms.append(Term("rule", r, locator=locator))
            self.rule_terms.append(ids)
        self.fragment_terms = []
        for f, fragment in enumerate(self.fragments):
            self.fragment_terms.append(len(terms))
            terms.append(Term("fragment", f, literal=fragment.data))
        self.engine = search.engine(terms)
        # what a range is searched for up front: every term in one pass (hyperscan), or none
        # (the stdlib: each term is searched where a pattern asks for it)
        self.indexed = range(len(terms) if self.engine.one_pass else 0)

    def hits(self, buf, s: int, e: int) -> search.Hits:
        """The terms' positions in ``buf[s:e]`` (see `search`)."""
        return search.Hits(self.engine, buf, s, e, self.indexed)

    def probe(self, buf, s: int, e: int) -> bool:
        """May a pattern rule or a wrapped base64 fragment apply to the text ``buf[s:e]``?
        (One call that stops at the first term, on most text files none.)"""
        return self.engine.probe(buf, s, e)

    # -- canaries --------------------------------------------------------------------------
    def label(self, canary: int) -> str:
        return self.canaries.canaries[canary].label

    def wrapped(self, buf, s: int, e: int, path: str, blob, found: set[int], hits) -> list:
        """Base64 of a canary broken across lines in the text ``buf[s:e]``: a fragment hit
        whose surroundings, CR and LF removed, hold the whole core (and did not before)."""
        findings = []
        if not hits.any("fragment", s, e):
            return findings
        for f, fragment in enumerate(self.fragments):
            if fragment.canary in found:
                continue
            core = fragment.core
            slack = 2 * (len(core) // 60 + 1)  # one CR LF per line the core can span
            for i in hits.positions(self.fragment_terms[f], s, e)[:MAX_FRAGMENT_HITS]:
                lo = max(s, i - fragment.offset - slack)
                window = bytes(buf[lo : min(e, i - fragment.offset + len(core) + slack)])
                if core not in window and core in window.translate(None, b"\r\n"):
                    found.add(fragment.canary)
                    end = i + len(fragment.data)
                    findings.append(
                        Finding(
                            "canary",
                            "/" + printable(path),
                            f"{self.label(fragment.canary)} found in file content "
                            f"({fragment.encoding})",
                            excerpt=redaction.excerpt(
                                buf, s, e, i, end, marker="[CANARY]", whole_token=True
                            ),
                            blob=blob,
                            offset=i - s,
                        )
                    )
                    break
        return findings

    def canaries_in_text(self, data: bytes) -> list[tuple[int, str]]:
        """(canary index, encoding) for every canary variant in a short text."""
        hits = []
        seen = set()
        for variant, index, name in self.canaries.variants:
            if index not in seen and len(variant) >= 6 and variant in data:
                seen.add(index)
                hits.append((index, name))
        return hits

    def text_canaries(
        self, data: bytes, path: str, where: str, location: str, blob, seen: set | None = None
    ) -> list:
        """A canary finding for each canary in a short text (a name, a target, a record);
        ``seen`` gets the canaries' indexes."""
        found = self.canaries_in_text(data)
        if seen is not None:
            seen.update(index for index, _ in found)
        return [
            Finding(
                "canary",
                path,
                f"{self.label(index)} found in {where} ({name})",
                location=location,
                blob=blob,
            )
            for index, name in found
        ]

    # -- patterns on short texts (names, records, config strings) --------------------------
    def pattern_findings(
        self, data: bytes, path: str, where: str, location: str, blob, rules=PATTERN_RULES
    ) -> list[Finding]:
        """A finding for each real pattern match in a short text."""
        return [
            Finding(
                rule.id,
                path,
                f"{rule.title} in {where}",
                excerpt=self.pattern_excerpt(rule, data, 0, len(data), m),
                location=location,
                blob=blob,
                variable=variable(rule, m),
            )
            for rule, m in self.patterns_in_text(data, rules)
        ]

    def patterns_in_text(self, data: bytes, rules: Iterable[PatternRule] = PATTERN_RULES):
        """Yield (rule, match) for real (non-placeholder) matches in a short text."""
        for rule in rules:
            for m in rule.regex.finditer(data):
                if real_match(rule, m):
                    yield rule, m

    def pattern_excerpt(self, rule: PatternRule, buf, lo, hi, m: re.Match) -> str:
        """The match in its context, the groups the rule redacts masked (a user named
        ``__token__``, PyPI's convention, is no secret)."""
        spans = [
            m.span(group)
            for group in rule.redact
            if m.group(group) and m.group(group) != b"__token__"
        ]
        self.scrub.add(m.group("secret"))
        return redaction.excerpt(buf, lo, hi, m.start(), m.end(), spans)

    # -- patterns on file contents ---------------------------------------------------------
    def pattern_scan(self, buf, s, e, hits, shown, blob, found, candidates, notes) -> list:
        """Every pattern rule's real matches in ``buf[s:e]``, a text file's piece (``hits``:
        its term positions); ``found`` (rule, secret) and ``candidates`` (per rule) carry
        across the file's pieces."""
        findings = []
        if not hits.any("rule", s, e):
            return findings
        for r, rule in enumerate(PATTERN_RULES):
            positions = [p for t in self.rule_terms[r] for p in hits.positions(t, s, e)]
            if len(self.rule_terms[r]) > 1:
                positions.sort()
            for p in positions:
                count = candidates.get(rule.id, 0) + 1
                candidates[rule.id] = count
                if count > MAX_CANDIDATES:
                    notes.append(
                        f"{shown}: more than {MAX_CANDIDATES} candidates for {rule.id}; the "
                        "rest of the file was not checked by that rule"
                    )
                    break
                m = rule.regex.match(buf, p, min(e, p + rule.max_length))
                if m is None:
                    continue
                key = (rule.id, m.group("secret"))
                if key in found or not real_match(rule, m):
                    continue
                found.add(key)
                findings.append(
                    Finding(
                        rule.id,
                        shown,
                        rule.title,
                        excerpt=self.pattern_excerpt(rule, buf, s, e, m),
                        blob=blob,
                        offset=m.start() - s,
                        variable=variable(rule, m),
                    )
                )
        return findings
