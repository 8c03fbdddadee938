"""Every rule that matches content carries examples it must find and examples it must not, and
they hold: through a file's scan (the search engine's keywords and locators, then the rule's
regex and policy) and through the short-text path (names, pax records, config strings).  Run
twice by the conftest: with hyperscan and isal, and with the standard library alone."""

from __future__ import annotations

import pytest
from image_tasks.audit.detect import canaries, redaction
from image_tasks.audit.detect.matching import Matcher
from image_tasks.audit.rules.catalog import EXAMPLED, RULES, SECRET_VARIABLE
from image_tasks.audit.rules.model import FileRule, PatternRule
from image_tasks.audit.scan.documents import scan_json
from image_tasks.audit.scan.file import FileScan

IDS = [rule.id for rule in EXAMPLED]


def matcher() -> Matcher:
    return Matcher(canaries.build([]), redaction.Scrubber())


def file_findings(path: str, data: bytes) -> list:
    scan = FileScan(matcher(), path, len(data), "blob")
    if data:
        scan.feed(data, 0, len(data))
    scan.finish()
    return scan.findings + scan.held


def rule_hits(rule, example) -> list:
    """The findings of ``rule`` on one of its examples."""
    if isinstance(rule, FileRule):
        found = file_findings(example.path, example.text.encode())
    elif rule is SECRET_VARIABLE:
        name, _, value = example.partition("=")
        doc = {"config": {"Labels": {name: value}}}
        found = scan_json(matcher(), doc, "<config>", "config", None)
    else:
        data = example.encode()
        found = file_findings("app/example.txt", data)
        short = [f for f in matcher().pattern_findings(data, "/x", "a text", "name", None)]
        file_hit = any(f.rule == rule.id for f in found)
        assert file_hit == any(f.rule == rule.id for f in short), (rule.id, example)
    return [f for f in found if f.rule == rule.id]


def test_every_content_rule_has_both_kinds_of_example():
    kinds = {type(rule) for rule in RULES if rule.category in ("credential-file", "secret-pattern")}
    assert kinds <= {FileRule, PatternRule}
    for rule in EXAMPLED:
        assert rule.true_positives, f"{rule.id} has no true-positive example"
        assert rule.false_positives, f"{rule.id} has no false-positive example"
    exampled = {rule.id for rule in EXAMPLED}
    assert {r.id for r in RULES if isinstance(r, FileRule | PatternRule)} == exampled


@pytest.mark.parametrize("rule", EXAMPLED, ids=IDS)
def test_true_positives(rule):
    for example in rule.true_positives:
        assert rule_hits(rule, example), f"{rule.id} misses {example!r}"


@pytest.mark.parametrize("rule", EXAMPLED, ids=IDS)
def test_false_positives(rule):
    for example in rule.false_positives:
        assert not rule_hits(rule, example), f"{rule.id} flags {example!r}"


@pytest.mark.parametrize("rule", [r for r in EXAMPLED if isinstance(r, PatternRule)], ids=str)
def test_pattern_policy_is_data(rule):
    """A pattern rule's regex names the groups its policy fields use."""
    groups = rule.regex.groupindex
    assert "secret" in groups and set(rule.redact) <= set(groups)
    assert not rule.variable or rule.variable in groups
    assert bool(rule.locators) != bool(rule.keywords) or rule is SECRET_VARIABLE


def test_variable_is_a_field_of_the_finding():
    (found,) = rule_hits(SECRET_VARIABLE, "NEXUS_PASSWORD=Q7vLm2Rt9xWp")
    assert found.variable == "NEXUS_PASSWORD"
    (found,) = [f for f in file_findings("app/.env", b"API_TOKEN=Hs8Kq3Vn5Lz1Q7\n")]
    assert (found.rule, found.variable) == ("secret-assignment", "API_TOKEN")
    assert "Hs8Kq3Vn5Lz1Q7" not in found.excerpt
