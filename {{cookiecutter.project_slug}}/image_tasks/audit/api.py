"""The audit's typed entry point: `run` reads a source (`scan.collector`), resolves it into
findings (`scan.assembly`) and returns a `findings.Report`."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .detect import canaries as canaries_module
from .detect.redaction import Scrubber
from .errors import AuditError
from .findings import Report
from .image.layouts import Layout, resolve
from .image.readers import FileReader, stdin_reader
from .rules import allowlist
from .scan import assembly, dockerfile
from .scan.blobs import BlobScanner, ScanContext
from .scan.collector import Collector
from .scan.limits import Limits

# Saves an image reference to an archive for the time of the ``with`` block: the caller's (an
# engine's ``save``); the audit itself knows no engine.
SaveReference = Callable[[str], contextlib.AbstractContextManager[str | os.PathLike]]

__all__ = ["Limits", "SaveReference", "looks_like_path", "run"]

POLICY_STRICT = {
    "pattern_rules_scope": "strict (everywhere)",
    "canary_wrapped_base64": "text files, everywhere",
}
POLICY = {
    "verdicts": "clean: every byte read and nothing found; leak: a finding; incomplete: a bound "
    "(an archive's expansion ratio or size, nesting depth, the deadline, a format the audit "
    "does not open) stopped the reading of the named paths, and nothing is proved about them",
    "canaries": "every byte of the input and of every stream derived from it, independently of "
    "the parser: the archive or layout files as stored (headers, padding, what follows the "
    "end-of-archive marker), every blob as stored (a compressed one's header fields and "
    "frames) and decompressed from its first byte to its last, archives and compressed files "
    "inside files (told by their magic bytes: gzip, zstd, xz, bzip2, compress, zip, tar, ar; "
    "8 levels deep), every JSON document as bytes and as parsed; names and link targets also as an "
    "engine resolves them",
    "canary_forms": "raw, percent-encoded, JSON-escaped and base64 (every alignment, and of "
    "login:password) everywhere",
    "canary_wrapped_base64": "text files outside package trees",
    "pattern_rules_scope": "package trees: files a package manager owns (dist-info RECORD, dpkg "
    ".list, conda-meta) get the token rules only; unowned files there get every rule",
    "pattern_rules_files": "text files (no NUL byte in the first 8 KiB)",
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
    save_reference: SaveReference | None = None,
) -> Report:
    """Audit ``source`` for the given canaries and the rules; see the package docstring.

    ``notes`` (secret-free, e.g. from `canaries.from_sources`) are added to the report's;
    ``display_name`` is how the report names the source (default: ``source``);
    ``dockerfile_path`` the Dockerfile the image was built from (findings point at its
    instructions); ``progress`` a `render.progress.Progress` (or None); ``save_reference``
    saves a ``source`` that names no file or directory (an image reference) to an archive,
    which is then audited (without it, such a source is refused)."""
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
    context = ScanContext(canary_set, strict, limits, time.monotonic() + limits.max_seconds)
    scanner = BlobScanner(context, scrub)
    scanner.progress = progress
    collector = Collector(scanner, limits)
    shown = source
    try:
        shown = _read(collector, source, save_reference)
    except AuditError as exc:  # a canary found already outweighs what went wrong after it
        if not collector.witnessed():
            raise
        collector.broken.append(str(exc))
    finally:
        scanner.close()
        if progress is not None:
            progress.close()
    layout = _resolve(collector)
    report = Report(source=shown if display_name is None else display_name, scrub=scrub)
    gaps = collector.gaps + assembly.gaps(collector.blobs, layout)
    report.policy = dict(POLICY, **(POLICY_STRICT if strict else {}))
    report.canaries = [c.label for c in canary_set.canaries]
    for label in canary_set.skipped:
        report.notes.append(
            f"{label} is shorter than {canaries_module.MIN_CANARY} characters; not searched"
        )
    report.notes[:0] = [n for n in notes if n not in report.notes]
    for problem in collector.broken:
        report.notes.append(
            f"could not be read as an image ({problem.rstrip('.')}); the canaries were found in "
            "its bytes all the same"
        )
    found = assembly.findings(scanner.matcher, collector.blobs, layout, report, instructions)
    found += collector.outer
    for f in found:  # every secret seen is known by now: scrub what the API hands out
        for name in ("path", "message", "excerpt", "location", "created_by", "deleted_by"):
            value = getattr(f, name)
            if value:
                setattr(f, name, scrub(value))
    for gap in gaps:
        gap.path, gap.reason = scrub(gap.path), scrub(gap.reason)
    report.findings, report.allowed = allowlist.split(found, entries)
    report.gaps, report.accepted = allowlist.split(gaps, entries, allowlist.INCOMPLETE)
    report.images = assembly.images(collector.blobs, layout, report.source)
    if layout.images:
        report.layers = assembly.layers(collector.blobs, layout.images[0], scrub)
    report.dockerfile = dockerfile_path
    return report


def _read(collector: Collector, source: str, save_reference: SaveReference | None) -> str:
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
        _read_reference(collector, source, save_reference)
        return source
    collector.finish_jobs()
    return source


def _resolve(collector: Collector) -> Layout:
    """The images of the source, checked; an empty layout when the deadline stopped the
    reading before the images could be known (its gap says so), or when the source is no
    sound image but holds a canary (a leak whatever else is wrong: the error is a note)."""
    if collector.broken:
        return Layout()
    try:
        layout = resolve(collector.jsons, set(collector.blobs), collector.links)
        assembly.verify(collector.blobs, layout)
    except AuditError as exc:
        if collector.gaps:
            return Layout()
        if collector.witnessed():
            collector.broken.append(str(exc))
            return Layout()
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


def _read_reference(
    collector: Collector, reference: str, save_reference: SaveReference | None
) -> None:
    if save_reference is None:
        raise AuditError(
            f"{reference!r} is not a file or directory. The audit reads saved images: save it "
            f"first ('docker save {reference} -o image.tar', or 'podman save --format "
            f"oci-archive -o image.tar {reference}') and audit image.tar, or run the project's "
            "audit task (nox -s audit), which saves the image it builds and records the verdict."
        )
    with save_reference(reference) as path:
        try:
            with open(path, "rb", buffering=0) as handle:
                what = f"the saved image {reference!r}"
                collector.read_archive(FileReader(handle.fileno()), what, os.fspath(path))
                collector.finish_jobs()
        except OSError as exc:
            raise AuditError(
                f"cannot read the saved image {reference!r} ({exc.strerror})."
            ) from None
