"""The audit task: save the image, audit it for leaked credentials, record what it found, and
make the SBOM of a clean image from the same saved archive (`state.sbom`).

It calls the audit as a library (`image_tasks.audit.run`), with canaries made from the netrc it
parsed itself, and hands the Report to the records (`state.records`), which publish trusts: made
only when the image the engine names is the same before and after the save, so what was audited
is what the tag named.
"""

import contextlib
import os
import sys
from collections.abc import Iterator

from image_tasks import audit as leak_audit
from image_tasks import ci_report, settings
from image_tasks.audit import Progress, Scrubber, write_report
from image_tasks.credentials import fingerprints, netrc_file
from image_tasks.engine.detect import detect
from image_tasks.engine.save import saved_archive
from image_tasks.errors import TaskError
from image_tasks.state import records, sbom


def audit(
    *,
    netrc: str | None = None,
    image: str | None = None,
    engine: str | None = None,
    output_format: str = "text",
    output: str | None = None,
) -> int:
    """Save the image and prove no credential survives in any layer, its config or history;
    record the verdict, which publish checks.

    The netrc's secrets are the canaries. Exit status 0 clean, 1 leak, 3 incomplete (publish
    refuses it as it refuses a leak), 2 could not audit. Writes SARIF as well when AUDIT_SARIF
    names a file (the workflow uploads it), and the SBOM of a clean image to the state folder."""
    config = settings.load(image, engine)
    credential = netrc_file.resolve(netrc, config.index_url)
    found = canaries(credential)
    searched = fingerprints.of(netrc_file.passwords(credential))
    chosen = detect(config.engine)
    syft = sbom.syft()
    # a report or SBOM left by an earlier run describes another image
    records.REPORT.unlink(missing_ok=True)
    sbom.SBOM.unlink(missing_ok=True)
    image_id = chosen.require_image(config.image)
    print(f"Auditing {config.image} (saved through {chosen.name}).", file=sys.stderr, flush=True)
    with saved_archive(config.image, chosen) as archive:
        with could_not_audit(config.image, found):
            report = leak_audit.run(
                str(archive),
                found,
                display_name=config.image,
                dockerfile_path=str(config.dockerfile),  # findings located on its instructions
                progress=Progress.on_terminal(sys.stderr),
            )
            write_outputs(report, output_format, output)
        clean = report.exit_code == 0
        document = sbom.make(syft, archive, config.image, image_id) if clean else None
    if chosen.image_id(config.image) != image_id:
        raise TaskError(
            f"{config.image} changed while it was being audited (it was {image_id}), so what "
            "was audited may not be what the tag names now; nothing was recorded. Audit it "
            "again when nothing is rebuilding it."
        )
    recorded = records.record_audit(config.image, image_id, report, searched)
    where = records.AUDITS.relative_to(settings.PROJECT_ROOT)
    print(f"Recorded: {image_id} audited {recorded.verdict} ({where}).", file=sys.stderr)
    ci_report.summary(f"**Leak audit of `{config.image}`:** {recorded.summary}")
    if document is not None:
        saved = sbom.save(document).relative_to(settings.PROJECT_ROOT)
        packages = len(document["packages"])
        print(f"SBOM: {packages} packages, SPDX JSON ({saved}).", file=sys.stderr)
        ci_report.summary(f"**SBOM:** {packages} packages, SPDX JSON (`{saved}`).")
    return report.exit_code


def canaries(credential: netrc_file.Credential) -> list[leak_audit.Canary]:
    """The secrets of the netrc as parsed for the build (the standard library's parser, as pip
    reads it): each entry's password, and its login where the audit takes it for a token."""
    found = [
        canary
        for host, (login, _, password) in netrc_file.parsed(credential).hosts.items()
        for canary in leak_audit.entry_canaries(login, password, f"{credential.origin}, {host}")
    ]
    if not found:
        raise TaskError(
            f"The netrc from {credential.origin} holds no password or token, so the audit would "
            "look for nothing. Give it the netrc the build mounts."
        )
    return found


@contextlib.contextmanager
def could_not_audit(image: str, found: list[leak_audit.Canary]) -> Iterator[None]:
    """The audit's refusals (and, as its command line does, its running out of memory or
    failing inside on a hostile image) as the task's error, exit status 2: one paragraph, no
    secret, no traceback; nothing is recorded."""
    scrub = Scrubber()
    for canary in found:
        scrub.add(canary.value)
    try:
        yield
    except leak_audit.AuditError as error:
        why = scrub(str(error))
    except MemoryError:
        why = "it ran out of memory; the image is hostile or far larger than an image should be."
    except Exception as error:  # a bug met on a hostile image: no verdict, and no traceback
        why = (
            f"an internal error ({type(error).__name__}); please report it with the image's origin."
        )
    else:
        return
    raise TaskError(f"Could not audit {image}: {why} Nothing was recorded: publish refuses it.")


def write_outputs(report: leak_audit.Report, output_format: str, output: str | None) -> None:
    """The report in the requested format, to --output or standard output; SARIF to AUDIT_SARIF
    too. Files are written by the audit's own writer, whole or not at all."""
    if os.environ.get("AUDIT_SARIF"):
        write_report(os.environ["AUDIT_SARIF"], leak_audit.render(report, "sarif"))
    text = leak_audit.render(report, output_format)
    if output:
        write_report(output, text)
        print(report.summary, file=sys.stderr)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
