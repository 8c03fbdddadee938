"""Findings and the report, rendered as text (people), JSON (machines) or SARIF 2.1.0
(GitHub code scanning).  Every string written goes through the report's `Scrubber`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .redaction import Scrubber
from .rules import RULES, RULES_BY_ID

TOOL = "image-tasks-audit"
TOOL_VERSION = "1.0.0"
INFO_URI = "https://github.com/"  # replaced by the baked repository's URL when known
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


@dataclass
class Finding:
    rule: str
    path: str  # file path in the image, or a pseudo-path such as <config>/Env/NAME
    message: str
    excerpt: str = ""
    # file, name, link, pax:KEY, config, history, manifest, attestation, archive
    location: str = "file"
    blob: str | None = None  # archive member or digest the finding came from (resolved later)
    layer: int | None = None
    layer_digest: str | None = None
    created_by: str | None = None
    deleted_in: int | None = None
    deleted_by: str | None = None
    image: str | None = None
    count: int = 1

    @property
    def severity(self) -> str:
        return RULES_BY_ID[self.rule].severity

    @property
    def title(self) -> str:
        return RULES_BY_ID[self.rule].title


@dataclass
class LayerInfo:
    index: int
    digest: str
    created_by: str | None
    compression: str
    files: int
    bytes: int


@dataclass
class Report:
    source: str
    findings: list[Finding] = field(default_factory=list)
    layers: list[LayerInfo] = field(default_factory=list)
    allowed: list[tuple[Finding, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    canaries: list[str] = field(default_factory=list)  # labels only
    images: list[dict] = field(default_factory=list)  # name and config digest of each image
    policy: dict = field(default_factory=dict)
    scrub: Scrubber = field(default_factory=Scrubber, repr=False)

    @property
    def exit_code(self) -> int:
        return 1 if self.findings else 0

    @property
    def verdict(self) -> str:
        if not self.findings:
            return (
                f"CLEAN: no secret found in {self.source} "
                f"({len(self.layers)} layers, {sum(x.files for x in self.layers)} files"
                + (f", {len(self.canaries)} canaries" if self.canaries else ", no canary given")
                + ")."
            )
        layers = sorted({f.layer for f in self.findings if f.layer is not None})
        where = f" in layer(s) {', '.join(map(str, layers))}" if layers else ""
        return f"LEAK: {len(self.findings)} finding(s){where} of {self.source}."

    # -- rendering ---------------------------------------------------------------------------
    def render(self, fmt: str) -> str:
        text = {"text": self.to_text, "json": self.to_json, "sarif": self.to_sarif}[fmt]()
        return self.scrub(text)

    def _finding_dict(self, f: Finding) -> dict:
        data = asdict(f)
        data.pop("blob")
        data["severity"] = f.severity
        data["title"] = f.title
        return {k: (self.scrub(v) if isinstance(v, str) else v) for k, v in data.items()}

    def to_json(self) -> str:
        doc = {
            "tool": {"name": TOOL, "version": TOOL_VERSION},
            "source": self.source,
            "verdict": "leak" if self.findings else "clean",
            "summary": self.verdict,
            "images": self.images,
            "findings": [self._finding_dict(f) for f in self.findings],
            "allowed": [dict(self._finding_dict(f), reason=r) for f, r in self.allowed],
            "layers": [asdict(x) for x in self.layers],
            "canaries": self.canaries,
            "policy": self.policy,
            "notes": self.notes,
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

    def to_text(self) -> str:
        lines = []
        if self.findings:
            header = ("SEVERITY", "RULE", "LAYER", "PATH", "DETAIL")
            rows = []
            for f in self.findings:
                layer = "-" if f.layer is None else str(f.layer)
                if f.deleted_in is not None:
                    layer += f" (deleted in {f.deleted_in})"
                detail = f.message + (f" | {f.excerpt}" if f.excerpt else "")
                rows.append((f.severity, f.rule, layer, _short(f.path, 60), _short(detail, 110)))
            widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
            for row in [header, *rows]:
                lines.append(
                    "  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True))
                    + "  "
                    + row[4]
                )
            steps = {}
            for f in self.findings:
                if f.layer is not None and f.created_by:
                    steps.setdefault(f.layer, f.created_by)
                if f.deleted_in is not None and f.deleted_by:
                    steps.setdefault(f.deleted_in, f.deleted_by)
            if steps:
                lines.append("")
                lines.append("Layers involved:")
                for layer in sorted(steps):
                    lines.append(f"  {layer}: {_short(steps[layer], 150)}")
        for note in self.notes:
            lines.append(f"note: {note}")
        if self.allowed:
            lines.append(f"{len(self.allowed)} finding(s) accepted by the allow-list.")
        lines.append(self.verdict)
        return "\n".join(lines) + "\n"

    def to_sarif(self) -> str:
        used = {f.rule for f in self.findings}
        rules = [r for r in RULES if r.id in used] or []
        index = {r.id: i for i, r in enumerate(rules)}
        results = []
        for f in self.findings:
            text = f.message
            if f.layer is not None:
                text += f" (layer {f.layer}"
                if f.deleted_in is not None:
                    text += f", deleted in layer {f.deleted_in}"
                text += ")"
            if f.excerpt:
                text += f": {f.excerpt}"
            uri = f.path.lstrip("/") or "image"
            logical = f"layer {f.layer}" if f.layer is not None else f.location
            results.append(
                {
                    "ruleId": f.rule,
                    "ruleIndex": index[f.rule],
                    "level": LEVEL[f.severity],
                    "message": {"text": self.scrub(text)},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": _uri(self.scrub(uri))}
                            },
                            "logicalLocations": [{"name": self.scrub(logical), "kind": "module"}],
                        }
                    ],
                    "partialFingerprints": {
                        "auditFinding/v1": f"{f.rule}:{self.scrub(f.path)}:{f.location}"
                    },
                }
            )
        doc = {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": TOOL,
                            "version": TOOL_VERSION,
                            "informationUri": INFO_URI,
                            "rules": [
                                {
                                    "id": r.id,
                                    "name": "".join(p.title() for p in r.id.split("-")),
                                    "shortDescription": {"text": r.title},
                                    "fullDescription": {"text": r.help},
                                    "help": {"text": r.help},
                                    "defaultConfiguration": {"level": LEVEL[r.severity]},
                                    "properties": {
                                        "tags": ["security", r.category],
                                        "security-severity": SECURITY_SEVERITY[r.severity],
                                    },
                                }
                                for r in rules
                            ],
                        }
                    },
                    "results": results,
                }
            ],
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _uri(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/-._~") or "image"
