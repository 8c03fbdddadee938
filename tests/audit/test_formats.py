"""Every source format and layer compression, and the ways a source is given."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import types
from pathlib import Path

import pytest
from audit_builders import Image, docker_classic, docker_oci, layer, oci_archive, oci_dir, write
from image_tasks import audit

PASSWORD = "Zq8vR3mT9pL2wX5nK7cQ4"
NETRC = f"machine nexus.example.com login ci-bot password {PASSWORD}\n".encode()
PROJECT = Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}"


def leaking_image() -> Image:
    return Image(
        layers=[
            layer(("etc/os-release", b"ID=debian\n"), ("usr/bin/python3", b"\x7fELF\0binary")),
            layer(("root/.netrc", NETRC)),
            layer(("root/.wh..netrc", b"")),
        ]
    )


def clean_image() -> Image:
    return Image(layers=[layer(("etc/os-release", b"ID=debian\n")), layer(("app/main.py", b"x=1"))])


def check_leak(report) -> None:
    rules = {(f.rule, f.path, f.layer, f.deleted_in) for f in report.findings}
    assert ("netrc-file", "/root/.netrc", 1, 2) in rules
    assert ("canary", "/root/.netrc", 1, 2) in rules
    assert report.exit_code == 1


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("builder", [oci_archive, docker_oci])
def test_oci_archives_every_compression(tmp_path, builder, compression):
    path = write(tmp_path, builder(leaking_image(), compression))
    check_leak(audit.run(path, [PASSWORD]))
    assert audit.run(write(tmp_path, builder(clean_image(), compression), "c.tar")).exit_code == 0


@pytest.mark.parametrize("manifest_last", [True, False])
def test_docker_classic(tmp_path, manifest_last):
    path = write(tmp_path, docker_classic(leaking_image(), manifest_last=manifest_last))
    report = audit.run(path, [PASSWORD])
    check_leak(report)
    assert [x.index for x in report.layers] == [0, 1, 2]
    assert report.layers[1].created_by == "RUN step 1"


def test_docker_classic_shared_layer_symlink(tmp_path):
    first = layer(("etc/a", b"a"))
    image = Image(layers=[first, layer(("etc/b", b"b")), first])
    report = audit.run(write(tmp_path, docker_classic(image, share_first_layer=True)))
    assert report.exit_code == 0
    assert len(report.layers) == 3


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_oci_directory(tmp_path, compression):
    root = oci_dir(leaking_image(), tmp_path / "layout", compression)
    check_leak(audit.run(str(root), [PASSWORD]))


def test_stdin_streaming(tmp_path):
    data = docker_classic(leaking_image(), manifest_last=True)
    proc = subprocess.run(
        [sys.executable, "-m", "image_tasks.audit", "-", "--canary-env", "NET_RC"],
        input=data,
        capture_output=True,
        env={
            "PYTHONPATH": str(PROJECT),
            "NET_RC": NETRC.decode(),
            "PATH": "/usr/bin:/bin",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout.decode()
    assert "netrc-file" in out and "canary" in out
    assert PASSWORD not in out + proc.stderr.decode()


def test_stdin_via_main(monkeypatch, tmp_path, capsys):
    data = docker_oci(clean_image())

    class FakeStdin:
        buffer = io.BufferedReader(io.BytesIO(data))

    monkeypatch.setattr(sys, "stdin", FakeStdin)
    assert audit.main(["-"]) == 0
    assert "CLEAN" in capsys.readouterr().out


def test_gzipped_docker_archive(tmp_path):
    import gzip

    path = write(tmp_path, gzip.compress(docker_classic(leaking_image())), "image.tar.gz")
    check_leak(audit.run(path, [PASSWORD]))


def test_image_reference_goes_through_engines(monkeypatch, tmp_path):
    archive = Path(write(tmp_path, docker_classic(leaking_image())))
    calls = []

    @contextlib.contextmanager
    def saved_archive(reference):
        calls.append(reference)
        yield archive

    fake = types.ModuleType("image_tasks.engine.save")
    fake.saved_archive = saved_archive
    monkeypatch.setitem(sys.modules, "image_tasks.engine.save", fake)
    report = audit.run("local/app:latest", [PASSWORD])
    assert calls == ["local/app:latest"]
    check_leak(report)
    assert report.source == "local/app:latest"  # named by the reference, not the saved file
    assert "local/app:latest" in report.verdict and str(archive) not in report.render("json")


def test_image_reference_task_error_is_exit_2(monkeypatch, capsys):
    from image_tasks.errors import TaskError

    @contextlib.contextmanager
    def saved_archive(reference):
        raise TaskError("docker save failed: no such image local/none:1; build it first.")
        yield

    fake = types.ModuleType("image_tasks.engine.save")
    fake.saved_archive = saved_archive
    monkeypatch.setitem(sys.modules, "image_tasks.engine.save", fake)
    assert audit.main(["local/none:1"]) == 2
    err = capsys.readouterr().err
    assert "no such image" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "source",
    ["/nonexistent/image.tar", "./out/image.tar", "../image", "out/image.tar.gz", "a/b.tgz"],
)
def test_missing_path_is_no_such_file_not_a_reference(monkeypatch, capsys, source):
    calls = []

    @contextlib.contextmanager
    def saved_archive(reference):
        calls.append(reference)
        yield

    fake = types.ModuleType("image_tasks.engine.save")
    fake.saved_archive = saved_archive
    monkeypatch.setitem(sys.modules, "image_tasks.engine.save", fake)
    monkeypatch.chdir(Path(__file__).parent)
    assert audit.main([source]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and source in err
    assert calls == []
    from image_tasks.audit.runner import looks_like_path

    assert not looks_like_path("local/app:latest") and not looks_like_path("image.tar")
