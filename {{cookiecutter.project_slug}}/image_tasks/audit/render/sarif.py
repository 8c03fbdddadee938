"""The report as SARIF 2.1.0, for GitHub code scanning.

With a Dockerfile (``--dockerfile``), a result's physical location is that file and the region
of the instruction that made the finding's layer, so code scanning annotates the line to fix;
the image path and layer are in the message and a logical location.  Without one, the location
is the path in the image, with the finding's byte offset as its region.  The verdict is the
run's ``properties.verdict``; what was not read to its end (an incomplete verdict) is one
error notification each in the run's invocation, and accepted unread paths are notes.  Valid
under Microsoft's SARIF multitool (``validate --rule-kind "Gh;Sarif"``) without an error or
a warning: the suite runs it.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from urllib.parse import quote

from ..findings import TOOL, VERSION, Finding, Report
from ..rules.catalog import RULES

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
# the repository the audit was baked into, whose README documents it (pyproject.toml,
# [tool.image-tasks] repository-url): the tool's informationUri
PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def information_uri() -> str | None:
    try:
        table = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["image-tasks"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    url = table.get("repository-url")
    return url if isinstance(url, str) and url.startswith("https://") else None


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _friendly_name(title: str) -> str:
    """A rule's title as the Pascal-case identifier SARIF wants for its name."""
    return "".join(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", title) if w)


def _uri(path: str) -> str:
    return quote(path, safe="/-._~") or "image"


def dockerfile_uri(path: str) -> str:
    """The Dockerfile as a URI relative to the repository root, as code scanning wants it: the
    repository the audit is baked into when the file lies in it, else the working directory
    (where the tasks run), else its bare name."""
    full = Path(path).resolve()
    for root in (PYPROJECT.parent, Path.cwd().resolve()):
        if full.is_relative_to(root):
            return _uri(full.relative_to(root).as_posix())
    return _uri(full.name)


def _location(report: Report, f: Finding) -> dict:
    image_path = report.scrub(f.path)
    logical = {"name": image_path, "kind": "resource"}
    if f.layer is not None:
        logical["fullyQualifiedName"] = f"layer {f.layer}{image_path}"
    if report.dockerfile and f.lines:
        physical = {
            "artifactLocation": {"uri": dockerfile_uri(report.dockerfile)},
            "region": {"startLine": f.lines[0], "endLine": f.lines[1]},
        }
    else:
        physical = {
            "artifactLocation": {"uri": _uri(image_path.lstrip("/"))},
            "region": {"byteOffset": f.offset or 0},
        }
    return {"physicalLocation": physical, "logicalLocations": [logical]}


def _message(report: Report, f: Finding) -> str:
    text = f"{f.message}: {f.path}"
    if f.layer is not None:
        text += f" in layer {f.layer}"
        if f.deleted_in is not None:
            text += f" (deleted in layer {f.deleted_in})"
    if report.dockerfile and f.instruction:
        text += f", made by {f.instruction!r}"
    if f.excerpt:
        text += f"; {f.excerpt}"
    return report.scrub(_sentence(text))


def render(report: Report) -> str:
    used = {f.rule for f in report.findings}
    rules = [r for r in RULES if r.id in used]
    index = {r.id: i for i, r in enumerate(rules)}
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": LEVEL[f.severity],
            "message": {"text": _message(report, f)},
            "locations": [_location(report, f)],
            "partialFingerprints": {
                "auditFinding/v1": f"{f.rule}:{report.scrub(f.path)}:{f.location}"
            },
        }
        for f in report.findings
    ]
    driver = {"name": TOOL, "version": VERSION, "semanticVersion": VERSION}
    uri = information_uri()
    if uri:
        driver["informationUri"] = uri
    driver["rules"] = [
        {
            "id": r.id,
            "name": _friendly_name(r.title),
            "shortDescription": {"text": _sentence(r.title)},
            "fullDescription": {"text": _sentence(r.help)},
            "help": {"text": _sentence(r.help)},
            "defaultConfiguration": {"level": LEVEL[r.severity]},
            "properties": {
                "tags": ["security", r.category],
                "security-severity": SECURITY_SEVERITY[r.severity],
            },
        }
        for r in rules
    ]
    notifications = [
        {
            "level": "error",
            "descriptor": {"id": "incomplete"},
            "message": {
                "text": report.scrub(_sentence(f"Not read to its end: {g.path}: {g.reason}"))
            },
        }
        for g in report.gaps
    ] + [
        {
            "level": "note",
            "descriptor": {"id": "incomplete-accepted"},
            "message": {
                "text": report.scrub(
                    _sentence(f"Not read to its end, accepted ({reason}): {g.path}: {g.reason}")
                )
            },
        }
        for g, reason in report.accepted
    ]
    doc = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "invocations": [
                    {"executionSuccessful": True, "toolExecutionNotifications": notifications}
                ],
                "results": results,
                # what was audited: the name the report gives it, and each image's config digest
                "properties": {
                    "verdict": str(report.verdict),
                    "summary": report.scrub(report.summary),
                    "source": report.scrub(report.source),
                    "images": [
                        {"name": report.scrub(i.name), "configDigest": i.config_digest}
                        for i in report.images
                    ],
                },
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
