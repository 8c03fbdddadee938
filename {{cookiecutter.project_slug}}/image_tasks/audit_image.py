"""The audit task: save the image, audit it for leaked credentials, record what it found.

The record (`records`) is what publish trusts: made only when the image the engine names is the
same before and after the save, so what was audited is what the tag named.
"""

import os
import sys

from image_tasks import audit as leak_audit
from image_tasks import ci_report, credentials, engines, fingerprints, records, settings
from image_tasks.errors import TaskError


def audit(
    *,
    netrc: str | None = None,
    image: str | None = None,
    engine: str | None = None,
    output_format: str = "text",
    output: str | None = None,
) -> int:
    """Save the image and audit every layer, its config and history, with the netrc's secrets as
    canaries; record the verdict against the image, which publish checks.

    Writes SARIF as well when AUDIT_SARIF names a file (the workflow uploads it)."""
    config = settings.load(image, engine)
    credential = credentials.resolve(netrc, config.index_url)
    searched = fingerprints.of(credentials.passwords(credential))
    canary = (
        ["--netrc", str(credential.path)]
        if credential.path
        else ["--canary-env", credential.variable]
    )
    chosen = engines.detect(config.engine)
    reports = ["--format", output_format] + (["--output", output] if output else [])
    if os.environ.get("AUDIT_SARIF"):
        reports += ["--sarif", os.environ["AUDIT_SARIF"]]
    records.REPORT.unlink(missing_ok=True)  # a report left by an earlier run is no record
    reports += ["--json", str(records.REPORT), "--display-name", config.image]
    reports += ["--dockerfile", str(config.dockerfile)]  # findings located on its instructions
    image_id = chosen.require_image(config.image)
    print(f"Auditing {config.image} (saved through {chosen.name}).", file=sys.stderr, flush=True)
    with engines.saved_archive(config.image, chosen) as archive:
        status = leak_audit.main([str(archive), *canary, *reports])
    if status not in (0, 1, 3):  # (clean, leak, incomplete: each recorded; else no verdict)
        return status
    if chosen.image_id(config.image) != image_id:
        raise TaskError(
            f"{config.image} changed while it was being audited (it was {image_id}), so what "
            "was audited may not be what the tag names now; nothing was recorded. Audit it "
            "again when nothing is rebuilding it."
        )
    audit = records.record_audit(config.image, image_id, searched)
    where = records.AUDITS.relative_to(settings.PROJECT_ROOT)
    print(f"Recorded: {image_id} audited {audit.verdict} ({where}).", file=sys.stderr)
    ci_report.summary(f"**Leak audit of `{config.image}`:** {audit.summary}")
    return status
