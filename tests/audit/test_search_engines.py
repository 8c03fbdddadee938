"""The hyperscan engine probes a range (no start-of-match tracking) before the scan that
tracks starts: it must report exactly the positions the standard library's search finds, on
ranges with terms and without."""

from __future__ import annotations

import random

import pytest
from image_tasks.audit.detect import canaries, matching, search
from image_tasks.audit.detect.redaction import Scrubber
from image_tasks.audit.rules.patterns import PATTERN_RULES


def _terms() -> list[search.Term]:
    canary = canaries.Canary("c", "Zq8vR3mT9pL2wX5nK7cQ4", "ci-bot")
    return matching.Matcher(canaries.build([canary]), Scrubber()).engine.terms


def _samples() -> list[bytes]:
    rng = random.Random(14)
    filler = bytes(rng.choice(b"abcdefghij klmnop\nqrstuvwxyz0123456789") for _ in range(4096))
    texts = [filler, b"", b"no term here at all\n" * 100]
    for rule in PATTERN_RULES:
        for example in rule.true_positives:
            at = rng.randrange(len(filler))
            texts.append(filler[:at] + example.encode() + filler[at:])
    return texts


@pytest.mark.parametrize("engines", ["accelerated"], indirect=True)
def test_probe_first_scan_reports_what_the_stdlib_finds(engines):
    import hyperscan  # (the fixture's "accelerated" case needs it: a skip, or in CI a failure)

    terms = _terms()
    fast = search.HyperscanEngine(terms, hyperscan)
    assert fast.tracks_starts
    slow = search.StdlibEngine(terms)
    samples = _samples()
    assert len(samples) > len(PATTERN_RULES)  # (every rule has examples to find)
    found_any = False
    for text in samples:
        buf = bytearray(b"\0" * 7 + text + b"\0" * 5)  # (a range inside a larger buffer)
        s, e = 7, 7 + len(text)
        want = slow.scan(buf, s, e, range(len(terms)))
        assert fast.scan(buf, s, e) == want
        assert fast.probe(buf, s, e) == any(want)
        found_any = found_any or any(want)
    assert found_any
