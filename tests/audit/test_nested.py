"""Archives and compressed files inside a layer are opened (depth 2, within a budget per image,
bomb and ratio limits); what a bound stops is said in the report."""

from __future__ import annotations

import gzip
import io
import random
import tarfile
import zipfile

import pytest
from audit_builders import Image, docker_oci, layer, write
from image_tasks import audit
from image_tasks.audit import Limits, rules
from image_tasks.audit.scan import nested

SECRET = "Vq8Lm2Xz7Kp4Wn9Rt3Yb6"
NETRC = f"machine nexus login deploy password {SECRET}\n".encode()


def tgz(*files) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def zipped(*files, method=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return out.getvalue()


def audited(tmp_path, *files, canaries=(SECRET,), **kwargs):
    path = write(tmp_path, docker_oci(Image(layers=[layer(*files)])))
    return audit.run(path, list(canaries), **kwargs)


def found(report):
    return {(f.rule, f.path) for f in report.findings}


@pytest.mark.parametrize(
    ("name", "data", "inner"),
    [
        ("tmp/netrc.gz", gzip.compress(NETRC * 4), "netrc"),
        ("opt/app/conf.tar.gz", tgz(("etc/app.conf", b"token=" + NETRC)), "etc/app.conf"),
        ("opt/app/conf.tgz", tgz(("app.conf", NETRC)), "app.conf"),
        ("tmp/pkg-1.0-py3-none-any.whl", zipped(("pkg/settings.py", NETRC * 4)), "pkg/settings.py"),
        ("opt/app/app.jar", zipped(("META-INF/app.properties", NETRC)), "META-INF/app.properties"),
        ("opt/app/data.zip", zipped(("a.txt", NETRC)), "a.txt"),
        ("opt/app/stored.zip", zipped(("a.txt", NETRC), method=zipfile.ZIP_STORED), "a.txt"),
        ("opt/app/lzma.zip", zipped(("a.txt", NETRC * 4), method=zipfile.ZIP_LZMA), "a.txt"),
    ],
)
def test_secret_inside_a_nested_archive_is_found(tmp_path, name, data, inner):
    report = audited(tmp_path, (name, data))
    assert ("canary", f"/{name}!/{inner}") in found(report)
    assert ("netrc-entry", f"/{name}!/{inner}") in found(report)  # patterns apply inside too
    assert SECRET not in audit.render(report, "json")


def test_credential_file_inside_a_tar(tmp_path):
    report = audited(tmp_path, ("backup/home.tar.gz", tgz(("root/.netrc", NETRC))), canaries=())
    assert ("netrc-file", "/backup/home.tar.gz!/root/.netrc") in found(report)
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:
        info = tarfile.TarInfo("home/.git-credentials")
        body = f"https://u:{SECRET}@git.example\n".encode()
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    report = audited(tmp_path, ("backup/home.tar", plain.getvalue()), canaries=())
    assert ("git-credentials", "/backup/home.tar!/home/.git-credentials") in found(report)


def test_two_levels_deep_and_no_deeper(tmp_path):
    wheel = zipped(("pkg/settings.py", NETRC))
    report = audited(tmp_path, ("opt/dist.tar.gz", tgz(("wheels/pkg.whl", wheel))))
    assert ("canary", "/opt/dist.tar.gz!/wheels/pkg.whl!/pkg/settings.py") in found(report)
    report = audited(tmp_path, ("opt/outer.zip", zipped(("inner.zip", zipped(("a.txt", NETRC))))))
    assert ("canary", "/opt/outer.zip!/inner.zip!/a.txt") in found(report)
    three = tgz(("mid.tar.gz", tgz(("inner.zip", zipped(("a.txt", NETRC))))))
    report = audited(tmp_path, ("opt/three.tar.gz", three))
    assert report.findings == []  # the third level is not opened (the documented limit)


def test_decompression_bomb_stops_with_a_note(tmp_path):
    bomb = gzip.compress(bytes(50 << 20) + NETRC)
    report = audited(tmp_path, ("tmp/zeros.gz", bomb))
    assert report.findings == []
    assert any("decompression bomb" in note and "/tmp/zeros.gz" in note for note in report.notes)


def test_budget_overrun_is_said(tmp_path):
    noise = random.Random(8).randbytes(512 << 10)  # (incompressible: no bomb)
    files = [(f"tmp/f{i}.gz", gzip.compress(noise + NETRC, compresslevel=1)) for i in range(8)]
    report = audited(tmp_path, *files, limits=Limits(nested_bytes=3 << 20))
    inside = [f for f in report.findings if f.rule == "canary" and "!/" in f.path]
    assert 0 < len(inside) < 8  # (and the stored bytes: deflate kept the netrc as a literal)
    # the archive during which the budget ran out is cut there; every one after it is counted
    assert any("budget of this image was spent); what came before" in n for n in report.notes)
    skipped = f"{8 - len(inside) - 1} nested archive(s) outside package trees"
    assert any(note.startswith(skipped) and "budget" in note for note in report.notes)
    assert len([f for f in report.findings if f.rule == "canary"]) == 8 + len(inside)
    report = audited(tmp_path, *files, limits=Limits(nested_bytes=64 << 20))
    assert len([f for f in report.findings if f.rule == "canary" and "!/" in f.path]) == 8
    assert not any("budget" in note for note in report.notes)


def test_broken_large_and_encrypted_archives_are_noted(tmp_path, monkeypatch):
    monkeypatch.setattr(nested, "MAX_ARCHIVE", 4096)
    good = gzip.compress(NETRC)
    big = zipped(("big.bin", bytes(range(256)) * 64), method=zipfile.ZIP_STORED)
    encrypted = bytearray(zipped(("a.txt", NETRC)))
    encrypted[6] |= 1  # the local header's and the central directory's flag: encrypted
    encrypted[encrypted.rfind(b"PK\x01\x02") + 8] |= 1
    headless = bytearray(zipped(("a.txt", b"a"), ("b.txt", NETRC)))
    headless[headless.rfind(b"PK\x03\x04")] = 0  # b.txt's local header (the directory's fine)
    report = audited(
        tmp_path,
        ("tmp/cut.gz", good[: len(good) // 2]),
        ("tmp/big.zip", big),
        ("tmp/locked.zip", bytes(encrypted)),
        ("tmp/notgzip.gz", b"plain text, named .gz\n"),
        ("tmp/headless.zip", bytes(headless)),
    )
    notes = " ".join(report.notes)
    assert "/tmp/cut.gz: the nested archive could not be read to its end" in notes
    assert "/tmp/big.zip: a nested archive of" in notes
    assert "/tmp/locked.zip!/a.txt: encrypted" in notes
    assert "/tmp/headless.zip: the nested archive could not be read to its end" in notes


def test_nested_archives_are_documented(tmp_path):
    assert "Archives and compressed files inside a layer are opened" in rules.__doc__
    report = audited(tmp_path, ("etc/a", b"a"))
    assert "nested archives" in report.policy["canaries"]
