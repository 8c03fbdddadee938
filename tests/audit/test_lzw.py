"""The unix ``compress`` reader (`image.lzw`) against the real tools: what ncompress writes is
read back byte for byte, at every code width, and a corrupt stream is read exactly as far as
``gzip -d`` reads it."""

from __future__ import annotations

import functools
import random
import subprocess

import pytest
from audit_builders import ncompress
from image_tasks.audit.errors import CorruptStream, Stopped
from image_tasks.audit.image import lzw
from image_tasks.audit.image.readers import BytesReader

RANDOM = random.Random(14)
LETTERS = b"abcdefghijklmnopqrstuvwxyz"
WORDS = [bytes(RANDOM.choices(LETTERS, k=RANDOM.randint(2, 9))) for _ in range(3000)]
TEXT = b" ".join(RANDOM.choices(WORDS, k=40_000))
INPUTS = {
    "empty": b"",
    "one byte": b"a",
    "random 1 MB": RANDOM.randbytes(1 << 20),
    "repetitive 5 MB": (b"password=hunter2\n" * 310_000)[: 5 << 20],
}
# the table fills, and compress clears it (CLEAR codes) as the data changes
MIXED = TEXT + RANDOM.randbytes(200_000) + bytes(1 << 20) + TEXT


@functools.cache  # (each test runs twice: with the accelerators and without)
def made(name: str, bits: int) -> bytes:
    return ncompress(INPUTS[name], bits)


def read(data: bytes) -> tuple[bytes, Exception | None]:
    """What the reader reads from ``data``, and how it stopped (None: at its end)."""
    out = bytearray()
    view = memoryview(bytearray(65_537))  # (an odd size: reads end inside a code's string)
    try:
        reader = lzw.LzwReader(BytesReader(data), "the test stream")
        while n := reader.readinto(view):
            out += view[:n]
    except (CorruptStream, Stopped) as exc:
        return bytes(out), exc
    return bytes(out), None


@pytest.mark.parametrize("bits", range(9, 17))
def test_what_ncompress_writes_is_read_back(bits):
    for name, data in INPUTS.items():
        out, stopped = read(made(name, bits))
        if stopped is None:
            assert out == data, (name, bits)
            continue
        # only ncompress 4.2's -b9 past a full table, which no reader reads back
        assert bits == 9 and isinstance(stopped, Stopped), (name, stopped)
        assert "readers read differently" in stopped.reason and data.startswith(out)
        gzip = subprocess.run(["gzip", "-dc"], input=made(name, bits), capture_output=True)
        assert gzip.returncode


def test_cleared_tables_and_strings_not_kept_whole(monkeypatch):
    stream = ncompress(MIXED, 12)
    assert read(stream) == (MIXED, None)
    for cache in (5_000, 100_000):  # (kept strings forgotten often: built from the table)
        monkeypatch.setattr(lzw, "CACHE", cache)
        assert read(stream) == (MIXED, None)


@pytest.mark.parametrize("bits", [10, 12, 16])
def test_a_corrupt_stream_is_read_as_far_as_gzip_reads_it(bits):
    stream = ncompress(TEXT[:40_000], bits)
    where = random.Random(bits)
    failed = 0
    for _ in range(30):  # (high bits set early, while the table fills: codes not yet defined)
        data = bytearray(stream)
        at = where.randrange(3, 3000)
        data[at : at + 2] = b"\xff\xff"
        gzip = subprocess.run(["gzip", "-dc"], input=bytes(data), capture_output=True)
        out, stopped = read(bytes(data))
        assert out == gzip.stdout
        assert (stopped is not None) == (gzip.returncode != 0)
        assert stopped is None or isinstance(stopped, CorruptStream)
        failed += stopped is not None
    assert failed > 5  # (some stay readable: LZW has no check)


def test_headers_no_reader_reads_are_corrupt():
    for data in (b"\x1f\x9d", b"\x1f\x8b\x90\x61", b"\x1f\x9d\x91\x61\x00"):  # short, gzip, 17 bits
        assert isinstance(read(data)[1], CorruptStream)
