"""Base64 of a canary wrapped across lines (base64 FILE, encodebytes: 76 columns; PEM: 64)."""

from __future__ import annotations

import base64
import textwrap

import pytest
from audit_builders import Image, docker_oci, layer, write
from image_tasks import audit

PASSWORD = "Zq8vR3mT9pL2wX5nK7cQ4"
NETRC = f"machine nexus.example.com login ci-bot password {PASSWORD}\n"


def wrapped(data: bytes, width: int, newline: bytes = b"\n") -> bytes:
    text = base64.b64encode(data).decode()
    return newline.join(x.encode() for x in textwrap.wrap(text, width)) + newline


@pytest.mark.parametrize("width, newline", [(76, b"\n"), (64, b"\n"), (76, b"\r\n")])
def test_every_break_position_is_found(tmp_path, width, newline):
    files = []
    for pad in range(0, 3 * width // 4 + 3):  # the password crosses every column
        content = wrapped(b"#" * pad + NETRC.encode(), width, newline)
        files.append((f"tmp/netrc.b64.{pad}", content))
    image = Image(layers=[layer(*files)])
    report = audit.run(write(tmp_path, docker_oci(image)), [audit.Canary("c", PASSWORD)])
    found = {f.path for f in report.findings if f.rule == "canary"}
    assert found == {"/" + name for name, _ in files}
    rendered = audit.render(report, "json") + audit.render(report, "text")
    assert PASSWORD not in rendered
    for name, content in files:  # no line of the wrapped text is shown
        for line in content.split(newline):
            assert len(line) < 12 or line.decode() not in rendered, name


def test_encodebytes_in_a_large_text_file(tmp_path):
    block = base64.encodebytes(b"x" * 7 + NETRC.encode())
    filler = b"log line without secrets\n" * 50_000  # > 1 MiB: scanned piece by piece
    for at in (0, len(filler) // 2, (1 << 20) - 40, len(filler)):
        content = filler[:at] + block + filler[at:]
        image = Image(layers=[layer(("var/log/build.log", content))])
        report = audit.run(write(tmp_path, docker_oci(image)), [audit.Canary("c", PASSWORD)])
        assert [f.rule for f in report.findings] == ["canary"], at
        assert "line-wrapped" in report.findings[0].message or at == 0


def test_wrapped_policy_package_trees_and_no_false_hit(tmp_path):
    content = wrapped(b"#####" + NETRC.encode(), 76)
    path = "usr/lib/python3/site-packages/pkg/data.txt"
    image = Image(layers=[layer((path, content), ("etc/other", b"QWxhZGRpbjpvcGVu\nc2VzYW1l\n"))])
    source = write(tmp_path, docker_oci(image))
    canary = [audit.Canary("c", PASSWORD)]
    assert audit.run(source, canary).findings == []  # (in a package tree: the documented limit)
    assert [f.path for f in audit.run(source, canary, strict=True).findings] == ["/" + path]
