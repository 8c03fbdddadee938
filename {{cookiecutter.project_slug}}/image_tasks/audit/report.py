"""Findings and the report, rendered as text (people), JSON (machines) or SARIF 2.1.0
(GitHub code scanning, `sarif`).  Every string written goes through the report's `Scrubber`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .. import __version__
from .redaction import Scrubber
from .rules import RULES_BY_ID

TOOL = "image-tasks-audit"


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
    offset: int | None = None  # byte offset of the match in the file (as stored)
    instruction: str | None = None  # the Dockerfile instruction that made the layer
    lines: tuple[int, int] | None = None  # its first and last line

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
class ImageInfo:
    name: str
    config_digest: str  # sha256 of the config blob as read: the image ID


@dataclass
class Report:
    source: str  # how the report names what was audited (--display-name, or SOURCE)
    findings: list[Finding] = field(default_factory=list)
    layers: list[LayerInfo] = field(default_factory=list)
    allowed: list[tuple[Finding, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    canaries: list[str] = field(default_factory=list)  # labels only
    policy: dict = field(default_factory=dict)
    images: list[ImageInfo] = field(default_factory=list)
    dockerfile: str | None = None  # the Dockerfile findings point at (SARIF locations)
    scrub: Scrubber = field(default_factory=Scrubber, repr=False)

    @property
    def exit_code(self) -> int:
        return 1 if self.findings else 0

    @property
    def outcome(self) -> str:
        """The verdict in a word: clean or leak."""
        return "leak" if self.findings else "clean"

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
        data["lines"] = list(f.lines) if f.lines else None
        data["severity"] = f.severity
        data["title"] = f.title
        return {k: (self.scrub(v) if isinstance(v, str) else v) for k, v in data.items()}

    def to_json(self) -> str:
        doc = {
            "tool": {"name": TOOL, "version": __version__},
            "source": self.source,
            "images": [asdict(x) for x in self.images],
            "verdict": self.outcome,
            "summary": self.verdict,
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
        from . import sarif  # (loaded for SARIF only: 7 ms of imports a JSON or text run skips)

        return sarif.render(self)


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
