"""Report files (--output, --sarif, --json): renamed into place only over a regular file or a
new path; a character device, a FIFO or a symbolic link is written to directly and stays what it
was (a rename over /dev/null by a root user once replaced the machine's /dev/null)."""

from __future__ import annotations

import json
import os
import stat
import threading

import pytest
from audit_builders import Image, docker_oci, layer, write
from baking import need
from image_tasks import audit

PASSWORD = "Zq8vR3mT9pL2wX5nK7cQ4"
OPTIONS = ("--output", "--sarif", "--json")


@pytest.fixture
def leaky(tmp_path):
    netrc = f"machine h login u password {PASSWORD}\n".encode()
    image = Image(layers=[layer(("root/.netrc", netrc))])
    return write(tmp_path, docker_oci(image))


@pytest.fixture
def char_device(tmp_path):
    """A character device of our own (a twin of /dev/null), so a regression cannot harm the
    machine's."""
    need(os.geteuid() == 0, "making a device node needs root")
    path = tmp_path / "null"
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return path


@pytest.mark.parametrize("option", OPTIONS)
def test_character_device_stays_a_device(leaky, char_device, option, capsys):
    assert audit.main([leaky, "--format", "json", option, str(char_device)]) == 1
    assert stat.S_ISCHR(os.lstat(char_device).st_mode)
    assert sorted(os.listdir(char_device.parent)) == ["image.tar", "null"]  # no temporary left


@pytest.mark.parametrize("option", OPTIONS)
def test_fifo_is_written_to_directly(leaky, tmp_path, option, capsys):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    assert audit.main([leaky, "--format", "json", option, str(fifo)]) == 1
    reader.join(timeout=30)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    doc = json.loads(got[0])
    assert doc["version" if option == "--sarif" else "verdict"] in ("2.1.0", "leak")
    assert PASSWORD not in got[0]


def test_regular_file_is_replaced_whole_and_a_symlink_stays_a_link(leaky, tmp_path, capsys):
    report = tmp_path / "report.json"
    report.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(report.name)
    assert audit.main([leaky, "--format", "json", "--output", str(report)]) == 1
    assert json.loads(report.read_text())["verdict"] == "leak"
    assert audit.main([leaky, "--format", "json", "--json", str(link), "--output", os.devnull]) == 1
    assert link.is_symlink() and json.loads(report.read_text())["verdict"] == "leak"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.tar", "latest.json", "report.json"]


def test_a_new_folder_is_made_and_an_unwritable_report_is_exit_2(leaky, tmp_path, capsys):
    record = tmp_path / ".image-tasks" / "audit.json"  # (as the audit task writes it)
    assert audit.main([leaky, "--json", str(record), "--output", os.devnull]) == 1
    assert json.loads(record.read_text())["verdict"] == "leak"
    target = tmp_path / "image.tar" / "report.json"  # below a file: no folder can be made
    assert audit.main([leaky, "--output", str(target)]) == 2
    err = capsys.readouterr().err
    assert "cannot write the report" in err and "Traceback" not in err
    directory = tmp_path / "a-directory"
    directory.mkdir()
    assert audit.main([leaky, "--sarif", str(directory)]) == 2
    assert list(directory.iterdir()) == []
