"""Content matching: canary needles and secret patterns over a range of a buffer.

Everything here works on ``(buffer, start, end)`` without copying, so the same code serves a
whole small file in the reader's buffer, a piece of a large one, a decompressed nested member
and a short text (a name, a pax record, a config string).  A `Matcher` holds what every scan of
an audit shares: the canaries' needles, the scrubber that learns each secret it reports, and
the policy switch ``strict``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator

from . import redaction
from .archive import printable
from .canaries import CanarySet
from .report import Finding
from .rules import PATTERN_RULES, Rule, is_placeholder

MAX_CANDIDATES = 200_000  # per rule and file: bounds the time of pathological files
MAX_FRAGMENT_HITS = 64  # per line-wrapped base64 fragment and text: hits verified
OUTSIDE_PACKAGES = frozenset(r.id for r in PATTERN_RULES if r.scope == "outside-packages")
URL_RULES = tuple(r for r in PATTERN_RULES if r.id == "url-credentials")


class Matcher:
    """Canaries and pattern rules, applied to byte ranges; findings carry their ``blob``."""

    def __init__(self, canaries: CanarySet, scrub: redaction.Scrubber, strict: bool = False):
        self.canaries = canaries
        self.scrub = scrub
        self.strict = strict
        self.needles = [n.data for n in canaries.needles]
        self.fragments = canaries.fragments
        # base64 needles are skipped in large binaries unless strict (see rules.py, policy)
        self.plain_needles = [
            n.data if not n.encodings[0].startswith("base64") else None for n in canaries.needles
        ]
        self.name_filter = (
            re.compile(b"|".join(re.escape(n) for n in self.needles)) if self.needles else None
        )
        self.overlap = max(0, canaries.max_needle - 1)
        for secret in canaries.secrets():
            scrub.add(secret)

    # -- canaries --------------------------------------------------------------------------
    def label(self, canary: int) -> str:
        return self.canaries.canaries[canary].label

    def canary_hit(self, k: int, path: str, blob, buf, lo: int, hi: int, at: int) -> Finding:
        """A finding for needle k at buf[at:], inside a file spanning buf[lo:hi]."""
        needle = self.canaries.needles[k]
        end = at + len(needle.data)
        return Finding(
            "canary",
            "/" + printable(path),
            f"{self.label(needle.canary)} found in file content ({' or '.join(needle.encodings)})",
            excerpt=redaction.excerpt(buf, lo, hi, at, end, marker="[CANARY]", whole_token=True),
            blob=blob,
            offset=at - lo,
        )

    def wrapped(self, buf, s: int, e: int, path: str, blob, found: set[int]) -> list[Finding]:
        """Base64 of a canary broken across lines in the text ``buf[s:e]``: a fragment hit
        whose surroundings, CR and LF removed, hold the whole core (and did not before)."""
        findings = []
        for fragment in self.fragments:
            if fragment.canary in found:
                continue
            core = fragment.core
            slack = 2 * (len(core) // 60 + 1)  # one CR LF per line the core can span
            i = buf.find(fragment.data, s, e)
            tries = 0
            while i >= 0 and tries < MAX_FRAGMENT_HITS:
                tries += 1
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
                i = buf.find(fragment.data, i + 1, e)
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

    def text_canaries(self, data: bytes, path: str, where: str, location: str, blob) -> list:
        """A canary finding for each canary in a short text (a name, a target, a record)."""
        return [
            Finding(
                "canary",
                path,
                f"{self.label(index)} found in {where} ({name})",
                location=location,
                blob=blob,
            )
            for index, name in self.canaries_in_text(data)
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
                excerpt=self.pattern_excerpt(data, 0, len(data), m),
                location=location,
                blob=blob,
            )
            for rule, m in self.patterns_in_text(data, rules)
        ]

    def patterns_in_text(self, data: bytes, rules: Iterable[Rule] = PATTERN_RULES):
        """Yield (rule, match) for real (non-placeholder) matches in a short text."""
        for rule in rules:
            for m in rule.regex.finditer(data):
                if not placeholder_match(rule, m):
                    yield rule, m

    def pattern_excerpt(self, buf, lo, hi, m: re.Match) -> str:
        spans = [m.span("secret")]
        if "user" in m.re.groupindex and m.group("user") != b"__token__":
            spans.append(m.span("user"))
        self.scrub.add(m.group("secret"))
        return redaction.excerpt(buf, lo, hi, m.start(), m.end(), spans)

    # -- patterns on file contents ---------------------------------------------------------
    def pattern_scan(self, buf, s, e, shown, blob, found, candidates, notes) -> list[Finding]:
        """Every pattern rule's real matches in ``buf[s:e]``, a text file's piece; ``found``
        (rule, secret) and ``candidates`` (per rule) carry across the file's pieces."""
        findings = []
        for rule in PATTERN_RULES:
            for p in _candidates(rule, buf, s, e):
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
                if key in found or placeholder_match(rule, m):
                    continue
                found.add(key)
                findings.append(
                    Finding(
                        rule.id,
                        shown,
                        rule.title,
                        excerpt=self.pattern_excerpt(buf, s, e, m),
                        blob=blob,
                        offset=m.start() - s,
                    )
                )
        return findings


def _candidates(rule: Rule, buf, s: int, e: int) -> Iterator[int]:
    """Positions where ``rule`` may match: its keywords' and its locator's hits."""
    # most texts hold no candidate at all: one search per keyword or locator says so
    if not any(buf.find(k, s, e) >= 0 for k in rule.keywords) and (
        rule.locator is None or rule.locator.search(buf, s, e) is None
    ):
        return iter(())
    positions = _find_all(buf, rule.keywords, s, e)
    if rule.locator is None:
        return positions
    located = (m.start() for m in rule.locator.finditer(buf, s, e))
    return itertools.chain(located, positions) if rule.keywords else located


def _find_all(buf, keywords, s, e) -> Iterator[int]:
    for keyword in keywords:
        i = buf.find(keyword, s, e)
        while i >= 0:
            yield i
            i = buf.find(keyword, i + 1, e)


def placeholder_match(rule: Rule, m: re.Match) -> bool:
    """Is a pattern match's secret a placeholder or a documented example (no finding)?"""
    secret = m.group("secret").decode("utf-8", "replace")
    if rule.id == "private-key-block":
        return len(secret.replace("\n", "").replace("\r", "")) < 64
    if rule.example_values and any(e.lower() in secret.lower() for e in rule.example_values):
        return True
    if rule.id in ("pypi-token", "github-token"):
        return len(set(secret[8:])) < 6 or "EXAMPLE" in secret.upper()
    if rule.id == "aws-access-key-id":
        return len(set(secret[4:])) < 5
    if rule.id == "url-credentials" and len(secret) < 8:
        # docs say user:pass@, scott:tiger@: short secrets with placeholder users
        user = m.group("user").decode("utf-8", "replace")
        if is_placeholder(user):
            return True
    return is_placeholder(secret)
