"""Every pax record of a member (xattrs, uname, comment, vendor keys, global headers) is
scanned for canaries and secret patterns."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from audit_builders import Image, docker_oci, layer, write
from image_tasks import audit

SECRET = "Vq8Lm2Xz7Kp4Wn9Rt3Yb6"


def pax_layer(pax_headers: dict, global_headers: dict | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(
        fileobj=out, mode="w", format=tarfile.PAX_FORMAT, pax_headers=global_headers or {}
    ) as tar:
        info = tarfile.TarInfo("opt/app/run.sh")
        data = b"#!/bin/sh\necho hello\n"
        info.size = len(data)
        info.pax_headers = pax_headers
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.parametrize(
    "headers, key",
    [
        ({"SCHILY.xattr.user.token": SECRET}, "SCHILY.xattr.user.token"),
        ({"uname": SECRET}, "uname"),
        ({"comment": f"built with {SECRET}"}, "comment"),
        ({"VENDOR.note": SECRET}, "VENDOR.note"),
        ({f"SCHILY.xattr.user.{SECRET}": "1"}, f"SCHILY.xattr.user.{SECRET}"),
    ],
)
def test_canary_in_pax_record(tmp_path, headers, key):
    image = Image(layers=[pax_layer(headers)])
    report = audit.run(write(tmp_path, docker_oci(image)), [SECRET])
    got = [(f.rule, f.path, f.location, f.layer) for f in report.findings]
    # (a record named like a secret, xattr user.token=..., is one by the patterns too)
    assert {g[0] for g in got} - {"canary"} <= ({"secret-assignment"} if "token" in key else set())
    got = [g for g in got if g[0] == "canary"]
    shown = key.replace(SECRET, "[REDACTED]") if SECRET in key else key
    assert len(got) == 1 and got[0][:2] == ("canary", "/opt/app/run.sh")
    assert got[0][3] == 0 and got[0][2].startswith("pax:")
    rendered = audit.render(report, "json") + audit.render(report, "sarif")
    assert SECRET not in rendered
    if SECRET not in key:
        assert got[0][2] == f"pax:{shown}"


def test_canary_in_global_pax_record(tmp_path):
    image = Image(layers=[pax_layer({}, {"comment": SECRET})])
    report = audit.run(write(tmp_path, docker_oci(image)), [SECRET])
    assert [(f.rule, f.location) for f in report.findings] == [("canary", "pax:comment")]


def test_pattern_in_pax_record_and_clean_records(tmp_path):
    token = "ghp_" + "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4"
    image = Image(layers=[pax_layer({"SCHILY.xattr.user.gh": token, "mtime": "1700000000.5"})])
    report = audit.run(write(tmp_path, docker_oci(image)), [SECRET])
    assert [(f.rule, f.location) for f in report.findings] == [
        ("github-token", "pax:SCHILY.xattr.user.gh")
    ]
    clean = Image(layers=[pax_layer({"uname": "builder", "mtime": "1700000000.5"})])
    assert audit.run(write(tmp_path, docker_oci(clean)), [SECRET]).findings == []


def test_pax_path_is_reported_once_as_a_name(tmp_path):
    long_name = f"opt/{SECRET}/" + "d" * 120 + "/x"  # longer than ustar's: a pax 'path'
    image = Image(layers=[layer((long_name, b"data"))])
    report = audit.run(write(tmp_path, docker_oci(image)), [SECRET])
    assert [f.location for f in report.findings] == ["name"]


def test_canary_in_outer_archive_pax_record(tmp_path):
    data = docker_oci(Image(layers=[layer(("etc/a", b"x"))]))
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data)) as src,
        tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for info in src.getmembers():
            if info.name == "oci-layout":
                info.pax_headers = {"SCHILY.xattr.user.k": SECRET}
            tar.addfile(info, src.extractfile(info))
    report = audit.run(write(tmp_path, out.getvalue()), [SECRET])
    got = [(f.rule, f.location) for f in report.findings]
    assert got == [("canary", "pax:SCHILY.xattr.user.k")]
    assert "oci-layout" in report.findings[0].message
    assert SECRET not in json.dumps(audit.render(report, "json"))
