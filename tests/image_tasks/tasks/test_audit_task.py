"""The audit task's side of the audit: canaries from the netrc it parsed itself, the audit's
refusals as the task's error (exit 2, the secret scrubbed), and the Report object recorded as
publish reads it. (The whole task on real engines: tests/e2e/test_engines.py, test_publish.py.)"""

import hashlib
import json

import pytest
from audit_builders import Image, docker_classic, layer, write
from image_tasks import audit
from image_tasks.credentials import netrc_file
from image_tasks.errors import TaskError
from image_tasks.state import records
from image_tasks.tasks import audit as audit_task

PASSWORD = "Zq8vR3mT9pL2wX5nK7cQ4"
TOKEN = "ghp_" + "R4nd0mT0k3nV4lu3" * 2


def credential(tmp_path, text: str) -> netrc_file.Credential:
    path = tmp_path / "netrc"
    path.write_text(text)
    path.chmod(0o600)
    return netrc_file.resolve(path, "https://nexus.example.com/simple/")


def test_canaries_are_the_passwords_and_token_logins_the_build_parses(tmp_path):
    found = audit_task.canaries(
        credential(
            tmp_path,
            f"machine nexus.example.com login ci password {PASSWORD}\n"
            f"machine github.com login {TOKEN} password x-oauth-basic\n"
            "machine other.example login deploy password x-oauth-basic\n",
        )
    )
    assert sorted(c.value for c in found) == sorted([PASSWORD, TOKEN])
    assert all(PASSWORD not in c.label and TOKEN not in c.label for c in found)
    assert any("nexus.example.com" in c.label for c in found)


def test_canaries_come_from_the_variable_as_ci_passes_it(tmp_path, monkeypatch):
    monkeypatch.delenv("NETRC", raising=False)
    monkeypatch.setenv("NET_RC", f"machine nexus.example.com login ci password {PASSWORD}\n")
    found = audit_task.canaries(netrc_file.resolve(None, "https://nexus.example.com/simple/"))
    assert [c.value for c in found] == [PASSWORD]


def test_a_netrc_without_a_secret_is_refused_not_audited_for_nothing(tmp_path):
    with pytest.raises(TaskError, match="holds no password or token"):
        audit_task.canaries(credential(tmp_path, "machine nexus.example.com login ci\n"))


@pytest.mark.parametrize(
    ("raised", "said"),
    [
        (audit.AuditError(f"a member {PASSWORD} is there twice"), "[REDACTED] is there twice"),
        (MemoryError(), "ran out of memory"),
        (ValueError(PASSWORD), "internal error (ValueError)"),
    ],
)
def test_what_stops_the_audit_is_a_task_error_without_the_secret(raised, said):
    found = [audit.Canary("password", PASSWORD)]
    with pytest.raises(TaskError) as error, audit_task.could_not_audit("app:dev", found):
        raise raised
    assert said in str(error.value) and "Nothing was recorded" in str(error.value)
    assert PASSWORD not in str(error.value)


@pytest.mark.parametrize("leaked", [False, True])
def test_the_report_object_is_recorded_as_publish_reads_it(tmp_path, monkeypatch, leaked):
    monkeypatch.setattr(records, "REPORT", tmp_path / "state" / "audit.json")
    monkeypatch.setattr(records, "AUDITS", tmp_path / "state" / "audits.json")
    content = f"password={PASSWORD}\n" if leaked else "nothing here\n"
    image = Image([layer(("app/settings.txt", content.encode()))])
    archive = write(tmp_path, docker_classic(image))
    report = audit.run(archive, [audit.Canary("password", PASSWORD)], display_name="app:dev")

    recorded = records.record_audit("app:dev", "sha256:" + "a" * 64, report, ["fingerprint"])

    assert recorded.verdict == ("leak" if leaked else "clean") and recorded.clean is not leaked
    assert recorded.config_digests == tuple(i.config_digest for i in report.images)
    assert records.audits()["sha256:" + "a" * 64] == recorded
    kept = records.REPORT.read_bytes()
    assert hashlib.sha256(kept).hexdigest() == recorded.report_sha256
    assert json.loads(kept)["verdict"] == recorded.verdict and PASSWORD.encode() not in kept
