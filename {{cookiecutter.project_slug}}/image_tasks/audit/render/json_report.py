"""The report as JSON, for machines: the verdict, findings, accepted findings, layers, policy."""

from __future__ import annotations

import json
from dataclasses import asdict

from ..findings import TOOL, VERSION, Finding, Gap, Report


def finding(report: Report, f: Finding) -> dict:
    data = asdict(f)
    data.pop("blob")
    data["lines"] = list(f.lines) if f.lines else None
    data["severity"] = f.severity
    data["title"] = f.title
    return {k: (report.scrub(v) if isinstance(v, str) else v) for k, v in data.items()}


def gap(report: Report, g: Gap) -> dict:
    data = asdict(g)
    data.pop("blob")
    return {k: (report.scrub(v) if isinstance(v, str) else v) for k, v in data.items()}


def render(report: Report) -> str:
    doc = {
        "tool": {"name": TOOL, "version": VERSION},
        "source": report.source,
        "images": [asdict(x) for x in report.images],
        "verdict": str(report.verdict),
        "summary": report.summary,
        "findings": [finding(report, f) for f in report.findings],
        "incomplete": [gap(report, g) for g in report.gaps],
        "allowed": [dict(finding(report, f), reason=r) for f, r in report.allowed],
        "accepted_incomplete": [dict(gap(report, g), reason=r) for g, r in report.accepted],
        "layers": [asdict(x) for x in report.layers],
        "canaries": report.canaries,
        "policy": report.policy,
        "notes": report.notes,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
