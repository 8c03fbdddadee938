"""One writer per report format, and where reports go.

* `text` (people), `json_report` (machines, and what the records keep), `sarif` (SARIF 2.1.0,
  for GitHub code scanning): each turns a `findings.Report` into a string;
* `outputs`: report files written whole or not at all; `progress`: a terminal's progress line.

Every string a writer returns goes through the report's scrub, so no secret the audit learnt
reaches any format.
"""

from __future__ import annotations

from ..findings import Report
from . import json_report, text

FORMATS = ("text", "json", "sarif")


def render(report: Report, fmt: str) -> str:
    """``report`` in ``fmt`` (one of `FORMATS`), scrubbed."""
    if fmt == "text":
        out = text.render(report)
    elif fmt == "json":
        out = json_report.render(report)
    elif fmt == "sarif":
        from . import sarif  # (loaded for SARIF only: 7 ms of imports a JSON or text run skips)

        out = sarif.render(report)
    else:
        raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    return report.scrub(out)
