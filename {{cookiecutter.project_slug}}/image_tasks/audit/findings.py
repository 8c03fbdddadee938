"""What an audit yields: findings, the images and layers it read, and the verdict.

Plain data: the detection and scanning modules make these, the writers in `render` print them;
nothing here reads an image or writes a report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .. import __version__
from .rules.catalog import RULES_BY_ID

TOOL = "image-tasks-audit"  # how the reports name their maker
VERSION = __version__


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
    variable: str | None = None  # the variable that holds the secret (NAME=value rules)

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
    # replaces every secret the audit learnt in any text a writer prints (`detect.redaction`)
    scrub: Callable[[str], str] = field(default=str, repr=False)

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
