"""Archives and compressed files inside a layer are opened by their bytes, eight levels deep, with
no budget for the image; what a bound stops (a bomb, depth, a format or zip entry not read) is a
gap: the verdict is incomplete, unless the allow-list accepts the path."""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import json
import lzma
import random
import subprocess
import tarfile
import zipfile

import pytest
import zstandard
from audit_builders import Image, docker_oci, files, layer, ncompress, write
from image_tasks import audit
from image_tasks.audit import rules
from image_tasks.audit.scan import nested

SECRET = "Vq8Lm2Xz7Kp4Wn9Rt3Yb6"
NETRC = f"machine nexus login deploy password {SECRET}\n".encode()


# 4 KB of text with a netrc line, compressed by ncompress 4.2 (compress -b 12): 9- to 12-bit
# codes, block mode
COMPRESSED = base64.b64decode(
    "H52Mc8qMkVOGzgwZIOi8WVPGDY0aIMLUIZOGDg4cCRc2xDEDRJo2Yc6U6cgmTJ4ycnLk8OiGTBk8HEGAHIMmjZsy"
    "MmCAYPPmjE0aN3aaRDkjBog7aMqUYWNjJU+fbm50tOkSj1GFDN3ICIpUKZsZEOGEmTPnzhs5ZHJg7Lo0Z8SJFVeK"
    "JWsW7Y2VAQcWrGEDxNyyZ8nE6Duz5k2dVF+qZFlVhtG/dcnMCAonD5w0MiB+DFkGR1+XcHjmkdEXcuCLjF/SWHkT"
    "T505CCtfrtHRNNoYGFu/xig7zQyMeQnSuQGxsM0yNz6XCf0mTw6dvXO/fP0QhO45Nq5qdAh9LGC02YWeTNmdbuCg"
    "1xFibVidLRuEm0XS9ms5DQ3gAoUbLTke4nqtHQVXUGY79WRTDn0lhkcNctVnQ1gOojfdHIvxh1IMAeZXUA4QSUQR"
    "HUBZNyENRyW1VAxGKUjDVCCJdANv9eFG32VgZZRVUwVCNcNKoIlGg07pIeRhRTHo1GNzMaz0H2rXhWdbWggZd1OR"
    "IAhIhw1rmcgGiQrmQKKVNJB4XQ0YHZnHfE8GZSaJQ15ZW32k+eVdZDlkqBcdg4FgZg0IPWWTYyV6FWKagS41mZzm"
    "oUVmlRrSAWh8ZSxqoRyo/fejeERB1KRO7snop0MYQSoDQmba8OZlMpBkoBs2INRkh3ANh1iLZdDQ16eLRYffnTiQ"
    "KGUZOUjo2hy2ekTrc3ouJ1qNk87QUZuVbndodLXNeZ6vYdB0nA2zcrbYdTQYZSazQ8kxQ4K04kCqss1V11uNa5L4"
    "H58zYqbedjVQVh8N8NEqo6gptqTareWea2NDVC7pH77VJkrGi299eAOX6ULk3m+M3nmDTtAadV0OUWZrGE5hWWsX"
    "RJPelSxzo00lMB7BrixaqjI3l4NRv3KbGh6A/hpDUJ9e+mR4Cm4sk8jHzTdpmIWy0WvGwuHVaJxdPlYfdPXV4PGE"
    "9H6KGqQh/mq0lRh/eiikD9Y7sYjDumsyGfO5d8O6LGNZL4OIfkeGW2DuKhzRL/8MdUEo1vv0r/fl+JNRVkIMqYzR"
    "6dR30zVo9rKpbL8WnqVZesV3o8llTqGYE2I+ZkeIA1m6qxN6WrDibjxtJV87H+ozV1ruV67dkNaooM5tcnk568Mm"
    "ebAbBjdp59/diqTu4HRwCLuQseZ5ncGQItsbxB+zyBlJ5TIdXVD/EZd3ZNhqe9NBxnK2qJkY1pwHjgoa5d5ibdbw"
    "Jegd/YesmTFZmlPKVQMjscs58HnZoSYVM7Nh5FeoyR9EyKYcllWoYHJ5G6Am9TVaYa43dnuS/qCHozbdalV1qh2J"
    "vCa/U6UBZE3r3FJwMMDxnBAqMbBcVSAGP3ltR3Af08mkjJcm3ryNXm1yy6dUpiDN+Ksja8KI/0QXlMapCirSk1sG"
    "HWa/3FntMjioYqNahSk5VGdNQbnd8ab1trnJzzPtE8nZaDW2qUlnWKGi1QxUNywEic4GpXnbHu8mxe2s5nyBydN/"
    "6OajK9pEKvJb4apyGEfkEGw8g3QP3pa2n1XZII1IuwmOLLUSn63EPWGMWEVkUMisxECSUMEBysq1FUSihYbQS9y7"
    "+EgdhFhJe/s6Ze7IZ0iIjCso0OKUlooFNuhBskskEqEQJxky9dXKlnvT4UtmaUNxHTBmvVGmV3R2HZW5J1xl3OSq"
    "ZBDNt8XkSQ26zCGHuJLe9WlVNYJnX64DRxWVMZr18WNvLgXBB4ayM5dEic6eREloQYhGQCtXP1+WwicJryo3O5o1"
    "n/mypy1RmF4BJhiF9RqaLW2fE2plQzI6Kbe0aZBPmmhVjHnAG+AupMR7jRDLFdHxLGZPsTmiRkdmNEjNTQG/Eh3s"
    "5IdNEFghDjhgQhtkgAU93GAJcKDBFdyQAykYJAtisIECyHavrFQHWiqNnffkWMbFKCgmv1LiqkLUrC6O0ymr4mhV"
    "tJOVWl6sZA5TS9NcGqst6k1lswskFwlzUMRQtJ4vA9STpgUnJ3IGjmaKU0xD9bJDpuduDdObjPhZL4w1rjgHDZ2Z"
    "RJqGO1JHU6XjK3vKo7fwMJC2kSEpbI7XHi31y30uTJyVdNef49HMSgTCVYJehjcQPjQNnxTdBccTv1/C6kMhAlfT"
    "CqeitSIHRpeBXH1q9B8cmY1HB7xUkFSJJwOyzHhLci12HvM2GPpMcmOU4ZZ25qVckm5Y7zsgmtoYSfZ+EE6K1VsK"
    "h1tB0XRtnXZdyqAIfDHKmAw="
)


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
        (
            "opt/app/conf.tar.gz",
            files(("etc/app.conf", b"token=" + NETRC), mode="w:gz"),
            "etc/app.conf",
        ),
        ("opt/app/conf.tgz", files(("app.conf", NETRC), mode="w:gz"), "app.conf"),
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
    report = audited(
        tmp_path, ("backup/home.tar.gz", files(("root/.netrc", NETRC), mode="w:gz")), canaries=()
    )
    assert ("netrc-file", "/backup/home.tar.gz!/root/.netrc") in found(report)
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:
        info = tarfile.TarInfo("home/.git-credentials")
        body = f"https://u:{SECRET}@git.example\n".encode()
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    report = audited(tmp_path, ("backup/home.tar", plain.getvalue()), canaries=())
    assert ("git-credentials", "/backup/home.tar!/home/.git-credentials") in found(report)


def nest(levels: int) -> bytes:
    """NETRC inside ``levels`` archives, alternating formats: zip, tar.gz, xz, zip..."""
    data, name = NETRC, "netrc"
    for level in range(levels):
        how = level % 3
        if how == 0:
            data, name = zipped((name, data)), f"l{level}.zip"
        elif how == 1:
            data, name = files((name, data), mode="w:gz"), f"l{level}.tgz"
        else:
            data, name = lzma.compress(files((name, data))), f"l{level}.txz"
    return data


def test_eight_levels_deep_are_opened_and_the_ninth_is_a_gap(tmp_path):
    for levels in (4, 8):
        report = audited(tmp_path, ("opt/nest", nest(levels)))
        inside = [f.path for f in report.findings if f.path.endswith("!/netrc")]
        assert len(inside) == 2 and inside[0].count("!/") == levels, inside  # canary, netrc-entry
        assert report.gaps == []
    report = audited(tmp_path, ("opt/nest", nest(9)))
    assert not any(f.path.endswith("!/netrc") for f in report.findings)
    assert report.verdict == "incomplete" and report.exit_code == 3
    assert [g.path.count("!/") for g in report.gaps] == [8]
    assert "levels deep" in report.gaps[0].reason and report.gaps[0].layer == 0


@pytest.mark.parametrize(
    ("name", "data", "inner"),
    [
        ("opt/blob.dat", gzip.compress(NETRC * 4), "blob.dat"),  # gzip, named like nothing
        ("opt/notes", bz2.compress(NETRC * 4), "notes"),
        ("opt/notes.xz", lzma.compress(NETRC * 4), "notes"),
        ("opt/notes.zst", zstandard.ZstdCompressor().compress(NETRC * 4), "notes"),
        ("opt/bundle", zipped(("a.txt", NETRC)), "a.txt"),  # a zip without a suffix
        ("opt/b.zip", zipped(("a.txt", NETRC * 4), method=zipfile.ZIP_BZIP2), "a.txt"),
        (
            "opt/t",
            files(("x/y.conf", NETRC), mode="w:gz")[:-2] + b"\0\0",
            "x/y.conf",
        ),  # tar.gz, no suffix
    ],
)
def test_formats_are_told_by_their_bytes_not_their_names(tmp_path, name, data, inner):
    report = audited(tmp_path, (name, data))
    assert ("canary", f"/{name}!/{inner}") in found(report), found(report)


def test_unix_compress_is_read_as_gzip_reads_it(tmp_path):
    plain = subprocess.run(["gzip", "-dc"], input=COMPRESSED, capture_output=True).stdout
    assert SECRET.encode() in plain and len(plain) > 4000
    from image_tasks.audit.image.lzw import LzwReader
    from image_tasks.audit.image.readers import BytesReader

    reader, out, view = (
        LzwReader(BytesReader(COMPRESSED), "x"),
        bytearray(),
        memoryview(bytearray(999)),
    )
    while n := reader.readinto(view):
        out += view[:n]
    assert out == plain
    report = audited(tmp_path, ("opt/data.Z", COMPRESSED))
    assert ("canary", "/opt/data.Z!/data") in found(report) and report.gaps == []


def test_a_password_in_a_compress_file_or_a_compressed_tar_is_a_leak(tmp_path):
    plain = b"# settings\n" * 300 + NETRC + b"# end\n" * 300
    made = ncompress(plain)  # by ncompress itself
    tar = ncompress(files(("home/ci/.netrc", NETRC), ("home/ci/notes", b"nothing\n" * 500)))
    assert SECRET.encode() not in made + tar  # (in 9- to 16-bit codes: only reading finds it)
    report = audited(tmp_path, ("opt/app/settings.Z", made), ("var/backups/home.tar.Z", tar))
    assert report.exit_code == 1 and report.verdict == "leak" and report.gaps == []
    assert {
        ("canary", "/opt/app/settings.Z!/settings"),
        ("canary", "/var/backups/home.tar.Z!/home/ci/.netrc"),
        ("netrc-file", "/var/backups/home.tar.Z!/home/ci/.netrc"),
    } <= found(report)


def literal_codes(data: bytes, flags: int) -> bytes:
    """A compress stream of ``data`` as 9-bit codes, one a byte (no table needed)."""
    bits = sum(byte << (9 * i) for i, byte in enumerate(data))
    return b"\x1f\x9d" + bytes([flags]) + bits.to_bytes((9 * len(data) + 7) // 8, "little")


@pytest.mark.parametrize("flags", [0x80, 0x88, 0x08, 0xE8])
def test_a_compress_header_below_9_bits_is_read_as_gzip_reads_it(tmp_path, flags):
    # widths 0-8 (reserved bits too): gzip -d and uncompress read 9-bit codes, with no table
    data = literal_codes(NETRC, flags)
    assert subprocess.run(["gzip", "-dc"], input=data, capture_output=True).stdout == NETRC
    report = audited(tmp_path, ("opt/x", data))
    assert ("canary", "/opt/x!/x") in found(report) and report.exit_code == 1


def test_a_9_bit_compress_stream_past_its_full_table_is_a_gap(tmp_path):
    # readers disagree past the 512th code: gzip reads 10-bit codes, ncompress 5 9-bit ones
    # (and ncompress 4.2's -b9 writes neither); what comes before is read
    noise = random.Random(9).randbytes(600)
    report = audited(tmp_path, ("opt/n.Z", ncompress(NETRC + noise + NETRC, bits=9)))
    assert ("canary", "/opt/n.Z!/n") in found(report) and report.exit_code == 1
    assert [g.path for g in report.gaps] == ["/opt/n.Z"]
    assert "readers read differently" in report.gaps[0].reason
    report = audited(tmp_path, ("opt/n.Z", ncompress(noise + NETRC, bits=9)))
    assert report.findings == [] and report.verdict == "incomplete"
    small = audited(tmp_path, ("opt/s.Z", ncompress(NETRC, bits=9)))  # (a table that never fills)
    assert ("canary", "/opt/s.Z!/s") in found(small) and small.gaps == []


def test_a_compress_bomb_is_an_incomplete_verdict(tmp_path, monkeypatch):
    monkeypatch.setattr(nested, "RATIO_FLOOR", 1 << 20)
    bomb = ncompress(bytes(20 << 20) + NETRC)
    assert len(bomb) < 20 << 10
    report = audited(tmp_path, ("tmp/zeros.Z", bomb))
    assert report.findings == [] and report.verdict == "incomplete" and report.exit_code == 3
    assert [g.path for g in report.gaps] == ["/tmp/zeros.Z"]
    assert "decompression bomb" in report.gaps[0].reason


def test_a_corrupt_compress_stream_gets_the_verdict_a_corrupt_gzip_gets(tmp_path):
    # read as far as it decodes (gzip -d gets no further), a note; what follows is not read
    text = random.Random(3).randbytes(40_000).hex().encode()  # (a stream of some length)
    broken_gzip = gzip.compress(text + NETRC)[:-40_000]
    broken_z = bytes([0x1F, 0x9D, 0x90, 0xFF, 0xFF]) + ncompress(text + NETRC)  # a first code 511
    garbage_after = ncompress(NETRC + text) + b"\xff" * 8  # codes past the table
    # what decodes before the failure is read, within a stream's first bytes too (zcat shows it)
    short_gzip, short_z = gzip.compress(NETRC)[:-6], ncompress(NETRC) + b"\xff" * 8
    for data in (garbage_after, short_gzip, short_z):
        done = subprocess.run(["gzip", "-dc"], input=data, capture_output=True)
        assert done.returncode and done.stdout.startswith(NETRC)
    verdicts = []
    for name, data in [
        ("a.gz", broken_gzip),
        ("a.Z", broken_z),
        ("b.Z", garbage_after),
        ("c.gz", short_gzip),
        ("c.Z", short_z),
    ]:
        report = audited(tmp_path, (f"opt/{name}", data))
        assert f"/opt/{name}: the nested archive could not be read to its end" in report.notes[0]
        assert "corrupt" in report.notes[0] or "truncated" in report.notes[0]
        verdicts.append(report.verdict)
    assert verdicts == ["clean", "clean", "leak", "leak", "leak"]


def test_streamed_zip_with_data_descriptors_and_a_zipapp_and_a_deb(tmp_path):
    streamed = io.BytesIO()

    class Unseekable(io.RawIOBase):  # zipfile writes data descriptors when it cannot seek
        def writable(self):
            return True

        def write(self, b):
            return streamed.write(b)

    with zipfile.ZipFile(Unseekable(), "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("first.txt", b"nothing here\n" * 100)
        with archive.open("second.txt", "w") as entry:
            entry.write(NETRC)
    data = streamed.getvalue()
    assert data[6] & 8  # (the first entry's flag: sizes in a descriptor)
    app = b"#!/usr/bin/env python3\n" + zipped(("__main__.py", b"print(1)\n"), ("cfg.py", NETRC))
    deb = debian_package(("./etc/app/netrc", NETRC))
    report = audited(tmp_path, ("opt/streamed.jar", data), ("usr/bin/app", app), ("tmp/x.deb", deb))
    paths = {p for rule, p in found(report) if rule == "canary"}
    assert "/opt/streamed.jar!/second.txt" in paths
    assert "/usr/bin/app!/cfg.py" in paths
    assert "/tmp/x.deb!/data.tar.xz!/etc/app/netrc" in paths
    assert report.gaps == []


def debian_package(*members) -> bytes:
    members = [(b"debian-binary", b"2.0\n"), (b"data.tar.xz", files(*members, mode="w:xz"))]
    body = b"!<arch>\n"
    for name, data in members:
        header = b"%-16s%-12d%-6d%-6d%-8s%-10d`\n" % (name, 0, 0, 0, b"100644", len(data))
        body += header + data + (b"\n" if len(data) % 2 else b"")
    return body


def test_decompression_bomb_is_an_incomplete_verdict(tmp_path, monkeypatch):
    monkeypatch.setattr(nested, "RATIO_FLOOR", 1 << 20)
    bomb = gzip.compress(bytes(50 << 20) + NETRC)
    report = audited(tmp_path, ("tmp/zeros", bomb))
    assert report.findings == [] and report.verdict == "incomplete"
    assert [g.path for g in report.gaps] == ["/tmp/zeros"]
    assert "decompression bomb" in report.gaps[0].reason
    assert "INCOMPLETE" in audit.render(report, "text")
    doc = json.loads(audit.render(report, "json"))
    assert doc["verdict"] == "incomplete" and doc["incomplete"][0]["path"] == "/tmp/zeros"
    sarif = json.loads(audit.render(report, "sarif"))["runs"][0]
    assert sarif["properties"]["verdict"] == "incomplete"
    assert (
        "/tmp/zeros" in sarif["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]
    )


def test_an_accepted_gap_is_clean_and_shown(tmp_path, monkeypatch):
    monkeypatch.setattr(nested, "RATIO_FLOOR", 1 << 20)
    bomb = gzip.compress(bytes(50 << 20))
    allow = tmp_path / "allow"
    allow.write_text("incomplete /tmp/zeros.gz  a sparse test fixture, known to be zeros\n")
    report = audited(tmp_path, ("tmp/zeros.gz", bomb), allow_list=str(allow))
    assert report.verdict == "clean" and report.exit_code == 0 and report.gaps == []
    assert [(g.path, r) for g, r in report.accepted] == [
        ("/tmp/zeros.gz", "a sparse test fixture, known to be zeros")
    ]
    text = audit.render(report, "text")
    assert "accepted unread: /tmp/zeros.gz" in text and "1 unread path(s) accepted" in text
    # '*' accepts findings, never an unread path
    allow.write_text("* /tmp/* anything\n")
    report = audited(tmp_path, ("tmp/zeros.gz", bomb), allow_list=str(allow))
    assert report.verdict == "incomplete"


def test_no_budget_for_the_image_every_archive_is_opened(tmp_path):
    noise = random.Random(8).randbytes(512 << 10)  # (incompressible: no bomb)
    files = [(f"tmp/f{i}.gz", gzip.compress(noise + NETRC, compresslevel=1)) for i in range(40)]
    report = audited(tmp_path, *files)
    assert len([f for f in report.findings if f.rule == "canary" and "!/" in f.path]) == 40
    assert report.gaps == []


def test_broken_encrypted_and_hidden_archive_entries(tmp_path):
    good = gzip.compress(NETRC)
    encrypted = bytearray(zipped(("a.txt", NETRC)))
    encrypted[6] |= 1  # the local header's and the central directory's flag: encrypted
    encrypted[encrypted.rfind(b"PK\x01\x02") + 8] |= 1
    headless = bytearray(zipped(("a.txt", b"a"), ("b.txt", NETRC)))
    hidden = headless.rfind(b"PK\x03\x04")
    headless[hidden] = 0  # b.txt's local header (the directory's fine)
    deflate64 = bytearray(zipped(("c.txt", NETRC)))
    deflate64[8] = 9  # method 9 (deflate64) in the local header
    deflate64[deflate64.rfind(b"PK\x01\x02") + 10] = 9
    report = audited(
        tmp_path,
        ("tmp/cut.gz", good[: len(good) // 2]),
        ("tmp/locked.zip", bytes(encrypted)),
        ("tmp/notgzip.gz", b"plain text, named .gz\n"),
        ("tmp/headless.zip", bytes(headless)),
        ("tmp/d64.zip", bytes(deflate64)),
        ("tmp/x.7z", b"7z\xbc\xaf\x27\x1c" + bytes(64)),
    )
    notes = " ".join(report.notes)
    assert "/tmp/cut.gz: the nested archive could not be read to its end" in notes
    gaps = {g.path: g.reason for g in report.gaps}
    assert "encrypted" in gaps["/tmp/locked.zip!/a.txt"]
    assert "method 9" in gaps["/tmp/d64.zip!/c.txt"]
    unmet = f"/tmp/headless.zip!/b.txt (listed at byte {hidden}, not met in order)"
    assert "central directory" in gaps[unmet]
    assert "7z" in gaps["/tmp/x.7z"]
    assert set(gaps) == {
        "/tmp/locked.zip!/a.txt",
        "/tmp/d64.zip!/c.txt",
        unmet,
        "/tmp/x.7z",
    }
    assert report.findings == [] and report.verdict == "incomplete"


def test_an_entry_only_the_central_directory_names_is_a_gap(tmp_path):
    # a stored member's data holds a whole local entry; the directory lists that entry too, at
    # its offset inside the member's data: readers that follow the directory read it as an
    # entry of its own, where reading the zip in order meets only the member
    inner = zipped(("x.txt", b"hidden\n"), method=zipfile.ZIP_STORED)
    outer = zipped(("a.bin", inner), method=zipfile.ZIP_STORED)
    cd, eocd = outer.rfind(b"PK\x01\x02"), outer.rfind(b"PK\x05\x06")
    hidden = bytearray(inner[inner.rfind(b"PK\x01\x02") : inner.rfind(b"PK\x05\x06")])
    hidden[42:46] = outer.find(inner).to_bytes(4, "little")  # its local header's offset
    records = outer[cd:eocd] + bytes(hidden)
    end = bytearray(outer[eocd:])
    end[8:10] = end[10:12] = (2).to_bytes(2, "little")
    end[12:16] = len(records).to_bytes(4, "little")
    data = outer[:cd] + records + bytes(end)
    assert [i.filename for i in zipfile.ZipFile(io.BytesIO(data)).infolist()] == ["a.bin", "x.txt"]
    report = audited(tmp_path, ("opt/overlap.zip", data), canaries=())
    assert [g.path for g in report.gaps] == [
        f"/opt/overlap.zip!/x.txt (listed at byte {outer.find(inner)}, not met in order)"
    ]
    assert report.verdict == "incomplete"


def test_nested_archives_are_documented(tmp_path):
    assert "Archives and compressed files inside a layer" in rules.__doc__
    report = audited(tmp_path, ("etc/a", b"a"))
    assert "magic bytes" in report.policy["canaries"]
