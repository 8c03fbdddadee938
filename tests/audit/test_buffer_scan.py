"""Canaries searched once per reader buffer (many small members at a time), mapped back to members.

The scanner searches each needle once over the part of the reader's buffer that holds small
members and keeps the hit offsets; a hit counts for a member only when it lies wholly inside
that member's data.  These tests pin the boundaries: the 1 MiB buffer edge, a hit running from
one member's data into the next member's header, many tiny members in one buffer, and a
needle so frequent that the per-buffer index gives up and searches member by member.
"""

from __future__ import annotations

import base64
import io
import tarfile

import pytest
from audit_builders import Image, docker_oci, write
from image_tasks import audit
from image_tasks.audit.detect import search
from image_tasks.audit.image import tar as archive

PASSWORD = "Zq8vR3mT9pL2wX5nK7cQ4"
SECRET = PASSWORD.encode()
MIB = archive.DEFAULT_BUFFER


def gnu_layer(*entries) -> bytes:
    """A layer of regular files in GNU format (one 512-byte header per member, no pax)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def canary_paths(tmp_path, layer: bytes, canary: str = PASSWORD) -> list[str]:
    report = audit.run(write(tmp_path, docker_oci(Image(layers=[layer]))), [canary])
    # (a Basic header holding the canary is a credential by its shape too)
    assert {f.rule for f in report.findings} <= {"canary", "authorization-header"}
    return sorted(f.path for f in report.findings if f.rule == "canary")


@pytest.mark.parametrize("shift", [-30, -21, -20, -10, -1, 0, 1, 500])
def test_small_member_straddling_the_buffer_edge(tmp_path, shift):
    # filler data runs to 1 MiB - 1536; the small member's header follows it, its data starts
    # at 1 MiB - 1024: the canary sits at 1 MiB + shift in the layer stream, in that member
    filler = MIB - 2048
    data = bytearray(b"x" * 4096)
    at = 1024 + shift
    data[at : at + len(SECRET)] = SECRET
    layer = gnu_layer(("opt/fill.bin", b"\0" * filler), ("opt/small.txt", bytes(data)))
    assert layer.index(SECRET) == MIB + shift
    assert canary_paths(tmp_path, layer) == ["/opt/small.txt"]


def test_hit_running_into_the_next_header_is_found_on_the_stream(tmp_path):
    # the first member ends (on a block boundary, no padding) with the canary's first half;
    # the next header's name field starts with its second half: neither member's data nor any
    # name holds the canary, but the layer's bytes do, and every byte is searched
    half = len(SECRET) // 2
    first = b"a" * (1024 - half) + SECRET[:half]
    second_name = SECRET[half:].decode() + "-rest.txt"
    layer = gnu_layer(("opt/first.txt", first), (second_name, b"clean\n"))
    assert SECRET in layer
    report = audit.run(write(tmp_path, docker_oci(Image(layers=[layer]))), [PASSWORD])
    assert [(f.path, f.location) for f in report.findings] == [("/opt/first.txt", "stream")]
    assert report.exit_code == 1
    # the same archive with the canary whole in either member is reported for that member
    layer = gnu_layer(("opt/first.txt", first[:-half] + SECRET), (second_name, b"clean\n"))
    assert canary_paths(tmp_path, layer) == ["/opt/first.txt"]


def test_canary_exactly_filling_a_member(tmp_path):
    layer = gnu_layer(("a", b"x"), ("exact", SECRET), ("b", b"y"))
    assert canary_paths(tmp_path, layer) == ["/exact"]
    # one byte short on either side is no hit
    layer = gnu_layer(("a", SECRET[:-1]), ("b", SECRET[1:]))
    assert canary_paths(tmp_path, layer) == []


def test_many_tiny_members_in_one_buffer(tmp_path):
    b64 = base64.b64encode(b"user:" + SECRET)
    entries = []
    expected = []
    for i in range(3000):
        body = f"file {i}\n".encode()
        if i % 97 == 5:
            body += SECRET + b"\n"
            expected.append(f"/d/f{i:04d}")
        elif i % 89 == 7:
            body = b"Authorization: Basic " + b64 + b"\n"
            expected.append(f"/d/f{i:04d}")
        elif i % 83 == 3:
            body += SECRET[:-1] + b"\n"  # almost: not a hit
        entries.append((f"d/f{i:04d}", body))
    layer = gnu_layer(*entries)
    assert len(layer) < MIB * 3
    assert canary_paths(tmp_path, layer) == sorted(expected)


def test_needle_too_frequent_for_the_index_falls_back_per_member(tmp_path):
    dense = SECRET * (search.MAX_HITS + 10)
    entries = [("d/dense.txt", dense)]
    entries += [(f"d/after{i}", (SECRET if i % 3 == 0 else b"nothing") + b"\n") for i in range(9)]
    layer = gnu_layer(*entries)
    expected = ["/d/after0", "/d/after3", "/d/after6", "/d/dense.txt"]
    assert canary_paths(tmp_path, layer) == expected


def test_base64_forms_are_searched_in_binaries_of_any_size(tmp_path):
    # every encoding of the canary over every byte: small and large binaries alike
    b64 = base64.b64encode(b"\0" + SECRET)
    small = b"\0\1\2" + b64 + b"\0"
    big = b"\0" * (MIB + 100) + b64 + b"\0"
    layer = gnu_layer(("lib/small.so", small), ("lib/big.so", big))
    report = audit.run(write(tmp_path, docker_oci(Image(layers=[layer]))), [PASSWORD])
    found = sorted((f.path, "base64" in f.message) for f in report.findings)
    assert found == [("/lib/big.so", True), ("/lib/small.so", True)]
