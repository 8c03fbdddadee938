"""The command line: ``python -m image_tasks.audit SOURCE [options]``.

Exit status: 0 clean, 1 findings, 2 the source could not be audited (one paragraph on
stderr saying what failed and what to do; never a traceback, never a secret).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from . import canaries as canaries_module
from .errors import AuditError
from .redaction import Scrubber

EPILOG = """\
SOURCE is a docker-archive ('docker save'), an OCI archive or layout directory, '-' for an
archive on standard input, or a local image reference (saved through the configured engine).

exit status: 0 no finding, 1 findings, 2 the source could not be audited.
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m image_tasks.audit",
        description="Audit a container image for leaked credentials (netrc passwords and "
        "tokens, credential files, secret patterns, config and build-argument leaks).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="archive path, OCI layout directory, '-', or image reference")
    p.add_argument(
        "--netrc",
        action="append",
        default=[],
        metavar="PATH",
        help="netrc whose passwords (and token logins) are canaries; repeatable",
    )
    p.add_argument(
        "--canary-env",
        action="append",
        default=[],
        metavar="VAR",
        help="environment variable whose value is a canary; netrc text (as in NET_RC) "
        "contributes its passwords and token logins; repeatable",
    )
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    p.add_argument("--output", metavar="FILE", help="write the report to FILE (default stdout)")
    p.add_argument(
        "--sarif",
        metavar="FILE",
        help="also write a SARIF 2.1.0 report to FILE (for GitHub code scanning)",
    )
    p.add_argument(
        "--json",
        metavar="FILE",
        help="also write the JSON report to FILE (the record the publish task checks)",
    )
    p.add_argument(
        "--display-name",
        metavar="NAME",
        help="how the report names the source (default: SOURCE), e.g. the image reference",
    )
    p.add_argument(
        "--allow-list",
        metavar="FILE",
        help="accepted false positives: lines 'RULE-ID PATH-GLOB REASON'",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="apply every pattern rule inside package trees too (see rules.py)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    scrub = Scrubber()
    try:
        from .runner import run

        try:
            notes: list[str] = []
            found = canaries_module.from_sources(args.netrc, args.canary_env, notes=notes)
        except ValueError as exc:
            raise AuditError(str(exc)) from None
        for canary in found:
            for variant, _, _ in canaries_module.build([canary]).variants:
                scrub.add(variant)
            scrub.add(canary.value)
        report = run(
            args.source, found, allow_list=args.allow_list, strict=args.strict, notes=notes
        )
        if args.display_name:
            report.source = args.display_name
        if args.sarif:
            _write(args.sarif, report.render("sarif"))
        if args.json:
            _write(args.json, report.render("json"))
        text = report.render(args.format)
        if args.output:
            _write(args.output, text)
            print(scrub(report.verdict), file=sys.stderr)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
        return report.exit_code
    except AuditError as exc:
        _fail(scrub(str(exc)))
    except KeyboardInterrupt:
        _fail("interrupted; no verdict.")
        return 130
    except MemoryError:
        _fail("ran out of memory; the source is hostile or far larger than an image should be.")
    except Exception as exc:
        _fail(
            f"internal error ({type(exc).__name__}) while auditing {args.source!r}; no verdict. "
            "Please report it with the image's origin (not its secrets)."
        )
    return 2


def _write(path: str, text: str) -> None:
    """Write a report whole or not at all: a temporary file beside it, then a rename."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise AuditError(f"cannot write the report to {path!r} ({exc.strerror}).") from None


def _fail(message: str) -> None:
    print(f"audit: could not audit: {message}", file=sys.stderr)
