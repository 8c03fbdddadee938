"""What the audit passed, kept where publish can check it: the repository's state folder.

Each audit writes its JSON report to ``.image-tasks/audit.json`` (what CI attests) and records,
in ``.image-tasks/audits.json``, the verdict and time against the config digest of each image
it read: the image ID, taken from the audited bytes themselves, which a push does not change.
Publish looks an image up by its current ID, so an image rebuilt after its audit has no record.
"""

import datetime
import hashlib
import json
from dataclasses import asdict, dataclass

from image_tasks import state
from image_tasks.errors import TaskError

REPORT = state.FOLDER / "audit.json"
RECORDS = state.FOLDER / "audits.json"


@dataclass(frozen=True)
class Record:
    image: str  # the reference the audit was run on
    config_digest: str  # sha256:... of the config blob the audit read
    verdict: str  # "clean" or "leak"
    audited_at: str  # ISO 8601, UTC
    report_sha256: str  # of the JSON report, as written to REPORT

    @property
    def clean(self) -> bool:
        return self.verdict == "clean"

    def summary(self) -> dict[str, str]:
        return {"verdict": self.verdict, "audited_at": self.audited_at,
                "report_sha256": self.report_sha256}  # fmt: skip


def load() -> dict[str, Record]:
    """Every record, by config digest; an unreadable file reads as no record at all."""
    try:
        data = json.loads(RECORDS.read_text(encoding="utf-8"))
        return {digest: Record(**fields) for digest, fields in data.items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, AttributeError):
        raise TaskError(
            f"{RECORDS} is unreadable or damaged. Delete it and run `nox -s audit` again: "
            "publish trusts no image without a readable record of its audit."
        ) from None


def record_report(image: str) -> list[Record]:
    """Record the verdict of the report the audit just wrote to REPORT, for each image in it."""
    try:
        raw = REPORT.read_bytes()
        report = json.loads(raw)
        digests = [entry["config_digest"] for entry in report["images"]]
        verdict = report["verdict"]
    except (OSError, ValueError, KeyError, TypeError):
        raise TaskError(
            f"The audit left no readable report in {REPORT}, so nothing was recorded and "
            "publish will refuse the image; run `nox -s audit` again."
        ) from None
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    written = [
        Record(image, digest, verdict, now, hashlib.sha256(raw).hexdigest()) for digest in digests
    ]
    records = load()
    records.update({r.config_digest: r for r in written})
    state.write_json(RECORDS, {digest: asdict(r) for digest, r in records.items()})
    return written
