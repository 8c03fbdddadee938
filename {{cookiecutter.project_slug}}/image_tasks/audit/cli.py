"""The command line: ``python -m image_tasks.audit SOURCE [options]``.

Exit status: 0 clean, 1 findings, 3 incomplete (a bound stopped the reading of the paths the
report names), 2 the source could not be audited (one paragraph on stderr saying what failed
and what to do; never a traceback, never a secret).  SIGINT and SIGTERM stop the audit and its
workers at once: 130 and 143, no traceback, no file left half-written.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .detect import canaries as canaries_module
from .detect.redaction import Scrubber
from .errors import AuditError
from .findings import VERSION
from .render import FORMATS, render
from .render.outputs import write_report
from .render.progress import Progress

EPILOG = """\
SOURCE is a docker-archive ('docker save'), an OCI archive or layout directory, or '-' for an
archive on standard input. An image reference is refused: save the image first, or run the
project's audit task (nox -s audit), which saves the image it builds.

exit status: 0 clean (everything read, nothing found), 1 findings, 3 incomplete (a bound
stopped the reading of the paths the report names: accept one with an allow-list entry
'incomplete PATH REASON', or investigate it), 2 the source could not be audited.
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m image_tasks.audit",
        description="Audit a container image for leaked credentials (netrc passwords and "
        "tokens, credential files, secret patterns, config and build-argument leaks).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="archive path, OCI layout directory, or '-'")
    p.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
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
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--output", metavar="FILE", help="write the report to FILE (default stdout)")
    p.add_argument(
        "--sarif",
        metavar="FILE",
        help="also write a SARIF 2.1.0 report to FILE (for GitHub code scanning)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the JSON report to FILE")
    p.add_argument(
        "--display-name",
        metavar="NAME",
        help="how the report, its verdict and SARIF name the source (default: SOURCE)",
    )
    p.add_argument(
        "--dockerfile",
        metavar="PATH",
        help="the Dockerfile the image was built from: findings point at the instruction "
        "that made their layer (SARIF locations)",
    )
    p.add_argument(
        "--allow-list",
        metavar="FILE",
        help="accepted false positives: lines 'RULE-ID PATH-GLOB REASON' ('incomplete' as the "
        "id accepts a path the audit could not read to its end)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="apply every pattern rule inside package trees too (see the policy: rules/)",
    )
    return p


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the audit stands, so that it stops as Ctrl-C stops it."""


def _terminate(signum, frame) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    p = parser()
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if on_main else None
    try:
        return _audit(args)
    finally:
        if on_main:
            signal.signal(signal.SIGTERM, previous)


def _audit(args) -> int:
    scrub = Scrubber()
    try:
        from .api import run

        try:
            notes: list[str] = []
            found = canaries_module.from_sources(args.netrc, args.canary_env, notes=notes)
        except ValueError as exc:
            raise AuditError(str(exc)) from None
        for secret in canaries_module.build(found).secrets():
            scrub.add(secret)
        for canary in found:  # (one too short to be searched is scrubbed all the same)
            scrub.add(canary.value)
        report = run(
            args.source,
            found,
            allow_list=args.allow_list,
            strict=args.strict,
            notes=notes,
            display_name=args.display_name,
            dockerfile_path=args.dockerfile,
            progress=Progress.on_terminal(sys.stderr),
        )
        for path, fmt in ((args.sarif, "sarif"), (args.json, "json")):
            if path:
                write_report(path, render(report, fmt))
        text = render(report, args.format)
        if args.output:
            write_report(args.output, text)
            print(scrub(report.summary), file=sys.stderr)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
        return report.exit_code
    except AuditError as exc:
        _fail(scrub(str(exc)))
    except Terminated:
        _fail("terminated; no verdict.")
        return 143
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


def _fail(message: str) -> None:
    print(f"audit: could not audit: {message}", file=sys.stderr)
