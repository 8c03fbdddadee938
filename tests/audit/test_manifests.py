"""manifest.json, index.json and the OCI manifests are scanned like the config."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from audit_builders import Image, docker_classic, docker_oci, layer, oci_archive, write
from image_tasks import audit

SECRET = "Vq8Lm2Xz7Kp4Wn9Rt3Yb6"


def rewrite(data: bytes, edit) -> bytes:
    """The archive with each JSON member passed through ``edit(name, doc)``; blobs whose
    content changes are renamed to their new digest and referenced by it, with their new size
    (manifests)."""
    import hashlib

    members = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for info in tar.getmembers():
            if info.isfile():
                members[info.name] = tar.extractfile(info).read()
    renamed = {}
    sizes = {}

    def resize(node):
        if isinstance(node, dict):
            if str(node.get("digest", "")).removeprefix("sha256:") in sizes:
                node["size"] = sizes[node["digest"].removeprefix("sha256:")]
            for value in node.values():
                resize(value)
        elif isinstance(node, list):
            for value in node:
                resize(value)

    # manifests before the index that names them
    order = sorted(members, key=lambda n: n in ("index.json", "manifest.json"))
    for name in order:
        body = members[name]
        try:
            doc = json.loads(body)
        except ValueError:
            continue
        text = json.dumps(doc)
        for old, new in renamed.items():
            text = text.replace(old, new)
        doc = json.loads(text)
        resize(doc)
        doc = edit(name, doc)
        new_body = json.dumps(doc).encode()
        if new_body != body:
            del members[name]
            if name.startswith("blobs/sha256/"):
                digest = hashlib.sha256(new_body).hexdigest()
                renamed[name.rpartition("/")[2]] = digest
                sizes[digest] = len(new_body)
                name = f"blobs/sha256/{digest}"
            members[name] = new_body
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


def annotate(name, doc):
    if name == "index.json":
        doc["annotations"] = {"com.example.note": f"built with {SECRET}"}
    elif isinstance(doc, dict) and doc.get("mediaType", "").endswith("manifest.v1+json"):
        doc["annotations"] = {"org.opencontainers.image.description": SECRET}
    elif name == "manifest.json":
        doc[0]["RepoTags"] = [f"registry.example/app:{SECRET}"]
    return doc


@pytest.mark.parametrize("builder", [oci_archive, docker_oci, docker_classic])
def test_canary_in_manifests_and_index(tmp_path, builder):
    data = rewrite(builder(Image(layers=[layer(("etc/a", b"x"))])), annotate)
    report = audit.run(write(tmp_path, data), [SECRET])
    got = {(f.rule, f.location, f.path.split(">")[0] + ">") for f in report.findings}
    assert got, builder
    assert {rule for rule, _, _ in got} == {"canary"}
    assert {loc for _, loc, _ in got} == {"manifest"}
    paths = {p for _, _, p in got}
    if builder is not docker_classic:
        assert "<index.json>" in paths
        assert any(p.startswith("<blobs/sha256/") for p in paths)
    if builder is not oci_archive:
        assert "<manifest.json>" in paths
    rendered = audit.render(report, "json") + audit.render(report, "sarif")
    assert SECRET not in rendered


def test_secret_annotation_in_manifest(tmp_path):
    def edit(name, doc):
        if name == "index.json":
            doc["manifests"][0]["annotations"]["com.example.api_token"] = "Zr8Kq2Lm5xWq7TyUi3"
        return doc

    data = rewrite(oci_archive(Image(layers=[layer(("etc/a", b"x"))])), edit)
    report = audit.run(write(tmp_path, data))
    assert [(f.rule, f.location) for f in report.findings] == [("secret-variable", "manifest")]


def test_clean_manifests_have_no_findings(tmp_path):
    for builder in (oci_archive, docker_oci, docker_classic):
        data = builder(Image(layers=[layer(("etc/a", b"x"))]))
        assert audit.run(write(tmp_path, data), [SECRET]).findings == []
