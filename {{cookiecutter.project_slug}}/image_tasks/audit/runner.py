"""Run an audit: read the source (`sources`), then resolve it into a report (`assembly`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from . import allowlist, assembly, dockerfile
from . import canaries as canaries_module
from .errors import AuditError
from .layouts import resolve
from .readers import FileReader
from .redaction import Scrubber
from .report import Report
from .sources import BlobScanner, Collector, Limits, Settings, stdin_reader

__all__ = ["Limits", "looks_like_path", "run"]

POLICY_STRICT = {
    "pattern_rules_scope": "strict (everywhere)",
    "canary_base64_forms": "everywhere (line-wrapped base64: text files)",
}
POLICY = {
    "pattern_rules_scope": "package trees: files a package manager owns (dist-info RECORD, dpkg "
    ".list, conda-meta) get the token rules only; unowned files there get every rule",
    "pattern_rules_files": "text files (no NUL byte in the first 8 KiB)",
    "canaries": "every byte of every file as stored, and inside nested archives (.gz, .tgz, "
    ".zip, .whl, .jar, .tar; depth 2, within the image's nested-archive budget), names, link "
    "targets, pax records, config, manifests, attestations",
    "canary_base64_forms": "text files and binaries up to 1 MiB (raw and percent forms: "
    "everywhere); line-wrapped base64: text files",
    "credential_files": "by path; one whose secret fields are all placeholders ($VAR, <...>, "
    "****, empty) is a note, not a finding",
}


def run(
    source: str,
    canaries: Sequence[str | canaries_module.Canary] = (),
    *,
    allow_list: str | None = None,
    allow_entries: Sequence[allowlist.Entry] | None = None,
    strict: bool = False,
    limits: Limits | None = None,
    notes: Sequence[str] = (),
    display_name: str | None = None,
    dockerfile_path: str | None = None,
    progress=None,
) -> Report:
    """Audit ``source`` for the given canaries and the rules; see the package docstring.

    ``notes`` (secret-free, e.g. from `canaries.from_sources`) are added to the report's;
    ``display_name`` is how the report names the source (default: ``source``);
    ``dockerfile_path`` the Dockerfile the image was built from (findings point at its
    instructions); ``progress`` a `progress.Progress` (or None)."""
    limits = limits or Limits()
    items = [
        c if isinstance(c, canaries_module.Canary) else canaries_module.Canary(f"canary #{i}", c)
        for i, c in enumerate(canaries, 1)
    ]
    canary_set = canaries_module.build(items)
    entries = list(allow_entries or ())
    if allow_list:
        entries += allowlist.load(allow_list)
    instructions = dockerfile.read(dockerfile_path) if dockerfile_path else None
    scrub = Scrubber()
    settings = Settings(canary_set, strict, limits, time.monotonic() + limits.max_seconds)
    scanner = BlobScanner(settings, scrub)
    scanner.progress = progress
    collector = Collector(scanner, limits)
    try:
        shown = _read(collector, source)
    finally:
        scanner.close()
        if progress is not None:
            progress.close()
    layout = _resolve(collector)
    report = Report(source=shown if display_name is None else display_name, scrub=scrub)
    report.policy = dict(POLICY, **(POLICY_STRICT if strict else {}))
    report.canaries = [c.label for c in canary_set.canaries]
    for label in canary_set.skipped:
        report.notes.append(
            f"{label} is shorter than {canaries_module.MIN_CANARY} characters; not searched"
        )
    report.notes[:0] = [n for n in notes if n not in report.notes]
    found = assembly.findings(scanner.matcher, collector.blobs, layout, report, instructions)
    found += collector.outer
    for f in found:  # every secret seen is known by now: scrub what the API hands out
        for name in ("path", "message", "excerpt", "location", "created_by", "deleted_by"):
            value = getattr(f, name)
            if value:
                setattr(f, name, scrub(value))
    report.findings, report.allowed = allowlist.split(found, entries)
    report.images = assembly.images(collector.blobs, layout, report.source)
    report.layers = assembly.layers(collector.blobs, layout.images[0], scrub)
    report.dockerfile = dockerfile_path
    return report


def _read(collector: Collector, source: str) -> str:
    """Read the source into the collector; how the report names it by default."""
    if source == "-":
        collector.read_archive(stdin_reader(), "the archive on standard input")
        return "standard input"
    path = Path(source)
    if path.is_dir():
        collector.read_directory(path)
    elif path.exists():
        try:
            with open(source, "rb", buffering=0) as handle:
                collector.read_archive(
                    FileReader(handle.fileno()), f"the archive {source!r}", source
                )
        except OSError as exc:
            raise AuditError(f"cannot read {source!r} ({exc.strerror}).") from None
    elif looks_like_path(source):
        raise AuditError(
            f"no such file: {source!r}; check the path (it looks like a file path, so it is "
            "not tried as an image reference)."
        )
    else:
        _read_reference(collector, source)
        return source
    collector.finish_jobs()
    return source


def _resolve(collector: Collector):
    try:
        layout = resolve(collector.jsons, set(collector.blobs), collector.links)
        assembly.verify(collector.blobs, layout)
    except AuditError as exc:
        if collector.unterminated:
            raise AuditError(
                "the archive ends without tar's end-of-archive marker, so it is probably "
                f"truncated; {exc}"
            ) from None
        raise
    return layout


def looks_like_path(source: str) -> bool:
    """Does a SOURCE that names nothing on disk look like a mistyped path rather than an
    image reference (which never starts with '/', './', '../' nor ends with '.tar')?"""
    return "/" in source and (
        source.startswith(("/", "./", "../")) or source.endswith((".tar", ".tar.gz", ".tgz"))
    )


def _read_reference(collector: Collector, reference: str) -> None:
    try:
        from image_tasks.engine.save import saved_archive
        from image_tasks.errors import TaskError
    except ImportError:
        raise AuditError(
            f"{reference!r} is not a file or directory, and image references cannot be "
            "resolved here (image_tasks.engine is unavailable). Save the image first: docker "
            "save IMAGE -o image.tar, then audit image.tar."
        ) from None
    try:
        with saved_archive(reference) as path, open(path, "rb", buffering=0) as handle:
            what = f"the saved image {reference!r}"
            collector.read_archive(FileReader(handle.fileno()), what, str(path))
            collector.finish_jobs()
    except TaskError as exc:
        raise AuditError(str(exc)) from None
    except OSError as exc:
        raise AuditError(f"cannot read the saved image {reference!r} ({exc.strerror}).") from None
