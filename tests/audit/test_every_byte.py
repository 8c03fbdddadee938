"""Every byte: the password hidden where no member's data is, each case crafted as an attacker
would, found whatever the structural reader makes of it (exit 1, never 0); and a property test:
the password inserted at any byte offset of a layer stream, or of the whole archive, is found."""

from __future__ import annotations

import gzip
import io
import json
import random
import struct
import tarfile

import zstandard
from audit_builders import (
    Image,
    docker_classic,
    docker_oci,
    files,
    layer,
    oci_archive,
    oci_dir,
    sha,
)
from audit_builders import write as write_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from image_tasks import audit

PASSWORD = "Zq8vR3mT9pL2wX5nK7cQ4"
SECRET = PASSWORD.encode()
CLEAN = layer(("etc/os-release", b"ID=debian\n"), ("usr/bin/tool", b"\x7fELF" + bytes(600)))


def verdict(tmp_path, data: bytes, canaries=(PASSWORD,)) -> audit.Report:
    return audit.run(write_file(tmp_path, data), list(canaries))


def where(report) -> set[tuple[str, str]]:
    return {(f.path, f.location) for f in report.findings if f.rule == "canary"}


def tar_with(*members, end: bytes = b"") -> bytes:
    """A GNU tar of ``members`` ((TarInfo, data)), its end-of-archive marker, then ``end``."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data))
    body = out.getvalue().rstrip(b"\0")
    body += bytes(-len(body) % 512)
    return body + bytes(1024) + end


def member(name: str, data: bytes = b"x", **fields) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    return info, data


# -- bytes that are no member's data ----------------------------------------------------------
def test_after_the_archives_end_of_archive_marker(tmp_path):
    data = docker_oci(Image(layers=[CLEAN])) + SECRET + bytes(512)
    report = verdict(tmp_path, data)
    assert report.exit_code == 1
    assert where(report) == {("<archive>", "stream")}
    assert "end-of-archive marker" in report.findings[0].message


def test_after_a_layers_end_of_archive_marker_as_stored_and_compressed(tmp_path):
    hidden = tar_with(member("etc/a", b"clean\n"), end=SECRET + b"\n")
    for build in (docker_oci, lambda image: oci_archive(image, "gzip")):
        report = verdict(tmp_path, build(Image(layers=[hidden])))
        assert report.exit_code == 1 and ("<layer>", "stream") in where(report)
        assert report.findings[0].layer == 0


def test_in_a_members_padding(tmp_path):
    data = bytearray(tar_with(member("etc/a", b"abc")))
    data[512 + 3 : 512 + 3 + len(SECRET)] = SECRET  # the 509 bytes after 'abc' are padding
    report = verdict(tmp_path, docker_oci(Image(layers=[bytes(data)])))
    assert where(report) == {("/etc/a", "padding")}


def test_in_ustar_header_fields_no_engine_shows(tmp_path):
    for fields in ({"uname": PASSWORD}, {"gname": PASSWORD}):
        hidden = tar_with(member("etc/a", b"clean\n", **fields))
        report = verdict(tmp_path, docker_oci(Image(layers=[hidden])))
        assert where(report) == {("/etc/a", "header")}, fields


def test_in_a_global_pax_record_and_a_pax_key(tmp_path):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.pax_headers = {"comment": f"built by {PASSWORD}"}  # a 'g' header
        info, data = member("etc/a", b"clean\n")
        info.pax_headers = {f"SCHILY.xattr.user.{PASSWORD}": "1"}
        tar.addfile(info, io.BytesIO(data))
    report = verdict(tmp_path, docker_oci(Image(layers=[out.getvalue()])))
    assert report.exit_code == 1
    locations = {loc for _, loc in where(report)}
    assert any(loc.startswith("pax:") for loc in locations), locations


def test_in_the_outer_archives_own_headers(tmp_path):
    data = docker_oci(Image(layers=[CLEAN]))
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for info in src.getmembers():
            if info.name == "oci-layout":
                info.uname = PASSWORD
            dst.addfile(info, src.extractfile(info) if info.isfile() else None)
    report = verdict(tmp_path, out.getvalue())
    assert where(report) == {("<archive>/oci-layout", "header")}


def gzip_with_header(data: bytes, *, name: bytes = b"", comment: bytes = b"", extra=b"") -> bytes:
    flags = (0x08 if name else 0) | (0x10 if comment else 0) | (0x04 if extra else 0)
    head = b"\x1f\x8b\x08" + bytes([flags]) + bytes(4) + b"\x00\xff"
    if extra:
        head += struct.pack("<H", len(extra)) + extra
    head += (name + b"\0" if name else b"") + (comment + b"\0" if comment else b"")
    body = gzip.compress(data)[10:]  # (its deflate data and trailer, after a plain header)
    return head + body


def test_in_a_gzip_layers_header_fields(tmp_path):
    subfield = b"AB" + struct.pack("<H", len(SECRET)) + SECRET
    for fields in ({"name": SECRET}, {"comment": SECRET}, {"extra": subfield}):
        packed = gzip_with_header(CLEAN, **fields)
        assert gzip.decompress(packed) == CLEAN
        report = verdict(tmp_path, oci_with_blob(packed, CLEAN))
        assert where(report) == {("<layer>", "stored")}, fields


def test_in_a_zstd_skippable_frame(tmp_path):
    frame = struct.pack("<II", 0x184D2A50, len(SECRET)) + SECRET
    packed = frame + zstandard.ZstdCompressor().compress(CLEAN)
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(packed), read_across_frames=True)
    assert reader.read() == CLEAN
    report = verdict(tmp_path, oci_with_blob(packed, CLEAN))
    assert where(report) == {("<layer>", "stored")}


def oci_with_blob(packed: bytes, plain: bytes) -> bytes:
    """An OCI archive of one image whose one layer blob is ``packed`` (``plain`` compressed)."""
    blobs = {}

    def put(body: bytes) -> dict:
        blobs[f"blobs/sha256/{sha(body)}"] = body
        return {"digest": f"sha256:{sha(body)}", "size": len(body)}

    config = put(Image(layers=[plain]).config())
    manifest = {"schemaVersion": 2, "config": config, "layers": [put(packed)]}
    index = {"schemaVersion": 2, "manifests": [put(json.dumps(manifest).encode())]}
    return files(*blobs.items(), ("index.json", json.dumps(index).encode()))


def test_json_documents_as_bytes_and_as_parsed(tmp_path):
    escaped = "\\u00" + f"{ord(PASSWORD[0]):02x}" + PASSWORD[1:]  # the same string, escaped
    image = Image(layers=[CLEAN], env=["PATH=/usr/bin", "X=placeholder"])
    data = with_config(image, lambda c: c.replace(b"X=placeholder", f"X={escaped}".encode()))
    assert SECRET not in data
    report = verdict(tmp_path, data)
    assert report.exit_code == 1 and any(f.location == "config" for f in report.findings)


def test_a_stray_file_in_a_layout_directory(tmp_path):
    root = oci_dir(Image(layers=[CLEAN]), tmp_path / "layout")
    (root / "blobs" / "notes.txt").write_bytes(b"deploy with " + SECRET + b"\n")
    report = audit.run(str(root), [PASSWORD])
    assert report.exit_code == 1 and report.findings[0].location == "archive"


# -- ambiguity ---------------------------------------------------------------------------------
def with_config(image: Image, edit) -> bytes:
    """A classic docker-archive of ``image`` whose config's bytes are ``edit(bytes)``."""
    config = image.config()
    new = edit(config)
    members = {}
    with tarfile.open(fileobj=io.BytesIO(docker_classic(image))) as tar:
        for info in tar.getmembers():
            if info.isfile():
                members[info.name] = tar.extractfile(info).read()
    del members[f"{sha(config)}.json"]
    members[f"{sha(new)}.json"] = new
    members["manifest.json"] = members["manifest.json"].replace(
        sha(config).encode(), sha(new).encode()
    )
    return files(*members.items())


def duplicated_config_key(secret: str) -> bytes:
    """The issue's case: the config object twice; Python keeps the last, Go merges both."""
    twice = f'"config": {{"Env": ["TOKEN={secret}"]}}, "config": {{'.encode()
    return with_config(Image(layers=[CLEAN]), lambda c: c.replace(b'"config": {', twice, 1))


def test_a_duplicated_json_key_is_an_error_or_a_leak_with_a_witness(tmp_path, capsys):
    data = duplicated_config_key(PASSWORD)
    path = write_file(tmp_path, data)
    assert audit.main([path]) == 2  # no canary: nothing outweighs the ambiguity
    err = capsys.readouterr().err
    assert "twice" in err and "Traceback" not in err
    report = audit.run(path, [PASSWORD])  # the canary's bytes are a witness: a leak
    assert report.exit_code == 1 and "the document's bytes" in report.findings[0].message
    assert any("twice" in note for note in report.notes)


def test_a_key_twice_but_for_its_case_is_an_error(tmp_path):
    twice = b'"Config": {"User": "root"}, "config": {'
    data = with_config(Image(layers=[CLEAN]), lambda c: c.replace(b'"config": {', twice, 1))
    try:
        audit.run(write_file(tmp_path, data))
    except audit.AuditError as exc:
        assert "twice" in str(exc) and "'Config'" in str(exc)
    else:
        raise AssertionError("a key twice but for its case was accepted")


def test_the_same_layer_member_twice(tmp_path):
    # skopeo and podman load the first copy, an audit keeping the second would see the clean one
    leaky = layer(("root/.netrc", b"machine h login u password " + SECRET + b"\n"))
    image = Image(layers=[CLEAN])
    data = docker_classic(image)
    name = json.loads(tar_member(data, "manifest.json"))[0]["Layers"][0]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        first = tarfile.TarInfo(name)
        first.size = len(leaky)
        tar.addfile(first, io.BytesIO(leaky))
        with tarfile.open(fileobj=io.BytesIO(data)) as src:
            for info in src.getmembers():
                tar.addfile(info, src.extractfile(info) if info.isfile() else None)
    path = write_file(tmp_path, out.getvalue())
    try:
        audit.run(path)
    except audit.AuditError as exc:
        assert "twice" in str(exc)
    else:
        raise AssertionError("a member twice was accepted")
    assert audit.run(path, [PASSWORD]).exit_code == 1  # (the first copy's canary: a witness)


def tar_member(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.extractfile(name).read()


def test_a_compressed_layer_whose_diff_id_does_not_match(tmp_path):
    other = layer(("etc/os-release", b"ID=other\n"))

    def swap(name, doc):
        if isinstance(doc, dict) and "rootfs" in doc:
            doc["rootfs"]["diff_ids"] = [f"sha256:{sha(other)}"]
        return doc

    from test_manifests import rewrite

    data = rewrite(oci_archive(Image(layers=[CLEAN]), "gzip"), swap)
    try:
        audit.run(write_file(tmp_path, data))
    except audit.AuditError as exc:
        assert "diff_id" in str(exc)
    else:
        raise AssertionError("a compressed layer's diff_id was not checked")


def test_manifest_json_and_index_json_are_both_read(tmp_path):
    # docker loads manifest.json's image, containerd's import index.json's: both are audited
    clean, leaky = Image(layers=[CLEAN]), Image(layers=[layer(("app/x", SECRET))])
    members = {}
    for image in (leaky, clean):  # the clean image's manifest.json and index.json win...
        with tarfile.open(fileobj=io.BytesIO(docker_oci(image))) as tar:
            for info in tar.getmembers():
                members[info.name] = tar.extractfile(info).read()
    leaky_index = {}
    with tarfile.open(fileobj=io.BytesIO(docker_oci(leaky))) as tar:
        leaky_index = tar.extractfile("index.json").read()
    members["index.json"] = leaky_index  # ...but index.json names the leaky image
    report = audit.run(write_file(tmp_path, files(*members.items())), [PASSWORD])
    assert report.exit_code == 1 and len(report.images) == 2
    assert ("/app/x", "file") in where(report)


# -- the property: the password anywhere ------------------------------------------------------
def small_layer(seed: int) -> bytes:
    rng = random.Random(seed)
    files = []
    fmt = rng.choice([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
    long = 90 if fmt == tarfile.USTAR_FORMAT else 200
    for i in range(rng.randint(1, 6)):
        size = rng.choice([0, 1, 17, 511, 512, 513, 2000])
        files.append((f"d{i % 2}/f{i}" + ("x" * rng.randint(0, long)), rng.randbytes(size)))
    return layer(*files, fmt=fmt)


PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(seed=st.integers(0, 1 << 30), at=st.floats(0, 1), how=st.sampled_from(["none", "gzip"]))
def test_the_password_inserted_anywhere_in_a_layer_stream_is_found(tmp_path, seed, at, how):
    stream = small_layer(seed)
    k = int(at * len(stream))
    stream = stream[:k] + SECRET + stream[k:]  # whatever structure it breaks
    data = (
        oci_archive(Image(layers=[stream]), how)
        if how == "gzip"
        else docker_oci(Image(layers=[stream]))
    )
    report = verdict(tmp_path, data)
    assert report.exit_code == 1, (k, len(stream))


@PROPERTY
@given(seed=st.integers(0, 1 << 30), at=st.floats(0, 1), how=st.sampled_from(["oci", "gzip"]))
def test_the_password_inserted_anywhere_in_the_archive_is_found(tmp_path, seed, at, how):
    image = Image(layers=[small_layer(seed), small_layer(seed + 1)])
    data = oci_archive(image, "gzip") if how == "gzip" else docker_oci(image)
    k = int(at * len(data))
    data = data[:k] + SECRET + data[k:]  # no digest made right: a witness outweighs that
    report = verdict(tmp_path, data)
    assert report.exit_code == 1, (k, len(data))


def test_a_json_document_too_large_to_parse_is_read_as_its_strings_decode(tmp_path):
    # an attestation of 5 MB (past the size the audit parses) holds the canary only escaped,
    # at the end of one of the audit's 1 MiB pieces (an escape cut in two)
    escaped = "".join(f"\\u{ord(c):04x}" for c in PASSWORD).encode()
    head = b'{"predicateType": "https://spdx.dev/Document", "pad": "'
    pad = b"x" * ((1 << 20) * 5 - len(head) - 7)
    statement = head + pad + b'", "n": "' + escaped + b'"}'
    assert json.loads(statement)["n"] == PASSWORD and SECRET not in statement
    blobs = {}

    def put(body: bytes, **extra) -> dict:
        blobs[f"blobs/sha256/{sha(body)}"] = body
        return {"digest": f"sha256:{sha(body)}", "size": len(body), **extra}

    image = {"schemaVersion": 2, "config": put(Image(layers=[CLEAN]).config()),
             "layers": [put(CLEAN)]}  # fmt: skip
    kind = {"in-toto.io/predicate-type": "https://spdx.dev/Document"}
    proof = {"schemaVersion": 2, "config": put(b"{}"), "layers": [put(statement, annotations=kind)]}
    index = {"schemaVersion": 2, "manifests": [
        put(json.dumps(image).encode()),
        put(json.dumps(proof).encode(),
            annotations={"vnd.docker.reference.type": "attestation-manifest"}),
    ]}  # fmt: skip
    archive = files(*blobs.items(), ("index.json", json.dumps(index).encode()))
    report = verdict(tmp_path, archive)
    assert report.exit_code == 1
    assert [f.message for f in report.findings if f.rule == "canary"] == [
        "canary #1 found in the document's strings as decoded (raw)"
    ]
