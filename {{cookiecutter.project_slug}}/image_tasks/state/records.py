"""What build, audit and test remember for publish's gate, in the repository's state folder.

An audit records, under the image's ID as the engine names it when the audit saved it, the
config digests the audit read from the saved bytes (what a registry's manifest must name
after a push), its verdict and time, and keyed fingerprints of the secrets it searched for.
A build records, under the ID of what it built, the fingerprints of the credential it mounted;
a test run, under the ID of the image it ran on, whether the tests passed. Publish looks them up
by the image's current ID: an image rebuilt since its audit or its tests has no such record, and
an audit that searched for another credential than the build used does not count.
(Docker's classic store names an image by its config digest; its containerd store and podman
by other digests: the record keeps both, so either store works.)
"""

import datetime
import hashlib
import json
from dataclasses import asdict, dataclass

from image_tasks.audit import Report, render
from image_tasks.errors import TaskError
from image_tasks.state import store

REPORT = store.FOLDER / "audit.json"  # the last recorded audit's JSON report (CI attests it)
AUDITS = store.FOLDER / "audits.json"
BUILDS = store.FOLDER / "builds.json"
TESTS = store.FOLDER / "tests.json"


@dataclass(frozen=True)
class Audit:
    image: str  # the reference the audit was run on
    image_id: str  # the engine's ID of the image, before and after the save
    config_digests: tuple[str, ...]  # sha256:... of each config blob the audit read
    verdict: str  # "clean", "leak" or "incomplete"
    summary: str  # the report's one-line verdict
    audited_at: str  # ISO 8601, UTC
    report_sha256: str  # of the JSON report, as written to REPORT
    secrets: tuple[str, ...]  # fingerprints of the secrets searched for

    @property
    def clean(self) -> bool:
        return self.verdict == "clean"

    def essentials(self) -> dict[str, str]:
        return {"verdict": self.verdict, "audited_at": self.audited_at,
                "report_sha256": self.report_sha256}  # fmt: skip


@dataclass(frozen=True)
class Build:
    image: str
    image_id: str
    built_at: str
    secrets: tuple[str, ...]  # fingerprints of the credential the build mounted


@dataclass(frozen=True)
class TestRun:
    image: str
    image_id: str  # the engine's ID of the image, before and after the run
    passed: bool
    summary: str  # pytest's last line: "8 passed in 41.2s", "1 failed, 7 passed in ..."
    tested_at: str


def audits() -> dict[str, Audit]:
    """Every audit, by image ID."""
    return {key: Audit(**_tuples(fields)) for key, fields in _load(AUDITS).items()}


def builds() -> dict[str, Build]:
    """Every build, by image ID."""
    return {key: Build(**_tuples(fields)) for key, fields in _load(BUILDS).items()}


def record_audit(image: str, image_id: str, report: Report, secrets: list[str]) -> Audit:
    """Keep the report's JSON as REPORT and record its verdict under the image's ID."""
    text = render(report, "json")
    store.write(REPORT, text)
    digests = tuple(found.config_digest for found in report.images)
    sha256 = hashlib.sha256(text.encode()).hexdigest()
    audit = Audit(
        image,
        image_id,
        digests,
        str(report.verdict),
        report.summary,
        _now(),
        sha256,
        tuple(secrets),
    )
    _add(AUDITS, image_id, audit)
    return audit


def record_build(image: str, image_id: str, secrets: list[str]) -> None:
    _add(BUILDS, image_id, Build(image, image_id, _now(), tuple(secrets)))


def tests() -> dict[str, TestRun]:
    """The last test run of every image, by image ID."""
    return {key: TestRun(**fields) for key, fields in _load(TESTS).items()}


def record_test(image: str, image_id: str, passed: bool, summary: str) -> TestRun:
    run = TestRun(image, image_id, passed, summary, _now())
    _add(TESTS, image_id, run)
    return run


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _tuples(fields: dict) -> dict:
    """JSON gives lists; the records hold tuples."""
    return {key: tuple(v) if isinstance(v, list) else v for key, v in fields.items()}


def _load(path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if all(isinstance(fields, dict) for fields in data.values()):
            return data
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, AttributeError):
        pass
    raise TaskError(
        f"{path} is unreadable or damaged. Delete it and run `nox -s build audit test` "
        "again: publish trusts no image without readable records of its build, audit and tests."
    )


def _add(path, key: str, record) -> None:
    data = _load(path)
    data[key] = asdict(record)
    store.write_json(path, data)
