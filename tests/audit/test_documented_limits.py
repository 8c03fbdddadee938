"""Documented limits (rules.py, the package docstring): pinned so that the docs stay true."""

from __future__ import annotations

import gzip
import io
import zipfile

from audit_builders import Image, docker_oci, layer, write
from image_tasks import audit
from image_tasks.audit import rules

SECRET = "Vq8Lm2Xz7Kp4Wn9Rt3Yb6"


def test_compressed_files_inside_a_layer_are_not_decompressed(tmp_path):
    deflated = io.BytesIO()
    with zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("pkg/settings.py", f"TOKEN = '{SECRET}'\n" * 4)
    image = Image(
        layers=[
            layer(
                ("tmp/netrc.gz", gzip.compress(f"password {SECRET}\n".encode() * 4)),
                ("tmp/pkg-1.0-py3-none-any.whl", deflated.getvalue()),
            )
        ]
    )
    report = audit.run(write(tmp_path, docker_oci(image)), [SECRET])
    assert report.findings == []  # the limit, as documented
    assert "not decompressed" in report.policy["canaries"]
    assert "Compressed files inside a layer are not decompressed" in rules.__doc__
    assert "not decompressed" in audit.__doc__


def test_what_compressed_archives_store_plainly_is_searched(tmp_path):
    stored = io.BytesIO()
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as z:
        z.writestr("conf/netrc", f"machine x login y password {SECRET}\n")
        z.writestr(f"names/{SECRET}.txt", b"")
    image = Image(layers=[layer(("tmp/stored.zip", stored.getvalue()))])
    report = audit.run(write(tmp_path, docker_oci(image)), [SECRET])
    assert [f.rule for f in report.findings] == ["canary"]
