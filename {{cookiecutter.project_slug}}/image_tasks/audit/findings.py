"""What an audit yields: findings, what it could not read, the images and layers it read, and
the verdict.

Plain data: the detection and scanning modules make these, the writers in `render` print them;
nothing here reads an image or writes a report.

The verdict (`Verdict`) is one of three, each with its exit status:

* ``leak`` (1): a finding stands (whatever else was or was not read);
* ``incomplete`` (3): no finding, but a bound stopped the reading of something (a nested
  archive past its expansion limits or depth, a format the audit does not open, the deadline):
  the named paths (`Gap`) were not searched to their end, so nothing is proved about them;
  an allow-list entry with a reason can accept a named path, and the report shows it;
* ``clean`` (0): every byte an engine could load was searched and nothing was found.

(2 is the command line's "could not audit": bad or ambiguous input, no report.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

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
    # file, name, link, pax:KEY (parsed); header, padding, stream (a tar stream's bytes outside
    # any member's data), stored (a compressed blob's bytes as stored), document (a JSON
    # document's bytes); config, history, manifest, attestation, archive
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
class Gap:
    """Something a bound stopped the audit from reading to its end: the verdict cannot be clean
    while one stands (unless the allow-list accepts its path, with a reason)."""

    path: str  # as findings name it: /opt/x.tgz!/inner, or a pseudo-path such as <archive>
    reason: str
    blob: str | None = None  # the blob it lies in (resolved to a layer later)
    layer: int | None = None


class Verdict(StrEnum):
    CLEAN = "clean"
    LEAK = "leak"
    INCOMPLETE = "incomplete"


EXIT_CODES = {Verdict.CLEAN: 0, Verdict.LEAK: 1, Verdict.INCOMPLETE: 3}


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
    gaps: list[Gap] = field(default_factory=list)  # what was not read to its end
    accepted: list[tuple[Gap, str]] = field(default_factory=list)  # gaps the allow-list accepts
    notes: list[str] = field(default_factory=list)
    canaries: list[str] = field(default_factory=list)  # labels only
    policy: dict = field(default_factory=dict)
    images: list[ImageInfo] = field(default_factory=list)
    dockerfile: str | None = None  # the Dockerfile findings point at (SARIF locations)
    # replaces every secret the audit learnt in any text a writer prints (`detect.redaction`)
    scrub: Callable[[str], str] = field(default=str, repr=False)

    @property
    def verdict(self) -> Verdict:
        if self.findings:
            return Verdict.LEAK
        return Verdict.INCOMPLETE if self.gaps else Verdict.CLEAN

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def summary(self) -> str:
        """The verdict in one line, for people."""
        verdict = self.verdict
        if verdict is Verdict.LEAK:
            layers = sorted({f.layer for f in self.findings if f.layer is not None})
            where = f" in layer(s) {', '.join(map(str, layers))}" if layers else ""
            return f"LEAK: {len(self.findings)} finding(s){where} of {self.source}."
        read = f"{len(self.layers)} layers, {sum(x.files for x in self.layers)} files" + (
            f", {len(self.canaries)} canar{'y' if len(self.canaries) == 1 else 'ies'}"
            if self.canaries
            else ", no canary given"
        )
        if verdict is Verdict.INCOMPLETE:
            return (
                f"INCOMPLETE: no secret found in what was read of {self.source} ({read}), but "
                f"{len(self.gaps)} path(s) were not read to their end; nothing is proved about "
                "them."
            )
        accepted = f"; {len(self.accepted)} unread path(s) accepted" if self.accepted else ""
        return f"CLEAN: no secret found in {self.source} ({read}{accepted})."
