"""The incomplete verdict reaches the record publish trusts, and publish refuses it."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest
from audit_builders import Image, docker_oci, layer, write
from image_tasks import audit
from image_tasks.errors import TaskError
from image_tasks.state import records
from image_tasks.tasks import publish


def test_publish_refuses_an_incomplete_audit(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "REPORT", tmp_path / "audit.json")
    monkeypatch.setattr(records, "AUDITS", tmp_path / "audits.json")
    monkeypatch.setattr(records, "BUILDS", tmp_path / "builds.json")
    unread = io.BytesIO()
    with tarfile.open(fileobj=unread, mode="w:xz") as tar:  # (xz in a 7z's clothes below)
        info = tarfile.TarInfo("a")
        tar.addfile(info)
    fixture = b"7z\xbc\xaf\x27\x1c" + gzip.compress(unread.getvalue())
    report = audit.run(write(tmp_path, docker_oci(Image(layers=[layer(("opt/x.7z", fixture))]))))
    assert report.verdict == "incomplete" and report.exit_code == 3
    recorded = records.record_audit("app:dev", "sha256:" + "b" * 64, report, [])
    assert recorded.verdict == "incomplete" and not recorded.clean
    with pytest.raises(TaskError, match="could not read everything") as refused:
        publish.clean_audit("app:dev", "sha256:" + "b" * 64)
    assert "incomplete PATH REASON" in str(refused.value)
