"""Build image archives in memory for the audit's tests: every layout, every compression."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import zstandard
from baking import tool


def layer(*entries, fmt=tarfile.PAX_FORMAT) -> bytes:
    """A layer tar.  Entries: (path, bytes) files; (path, {"symlink"|"hardlink"|"dir": x})."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            if isinstance(content, dict):
                if "symlink" in content:
                    info.type = tarfile.SYMTYPE
                    info.linkname = content["symlink"]
                elif "hardlink" in content:
                    info.type = tarfile.LNKTYPE
                    info.linkname = content["hardlink"]
                else:
                    info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data, compresslevel=1)
    if how == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def ncompress(data: bytes, bits: int = 16) -> bytes:
    """``data`` compressed by the real unix ``compress`` (Debian's ncompress), ``-b bits``."""
    done = subprocess.run([tool("compress"), "-c", f"-b{bits}"], input=data, capture_output=True)
    assert done.returncode in (0, 2), done.stderr  # (2: the output is not smaller; written)
    return done.stdout


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Image:
    layers: list[bytes]
    history: list[dict] | None = None
    env: list[str] = field(default_factory=lambda: ["PATH=/usr/bin:/bin"])
    labels: dict = field(default_factory=dict)
    cmd: list[str] = field(default_factory=lambda: ["python3"])
    attestations: list[dict] = field(default_factory=list)  # in-toto statements

    def config(self) -> bytes:
        history = self.history or [{"created_by": f"RUN step {i}"} for i in range(len(self.layers))]
        return json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Env": self.env, "Labels": self.labels, "Cmd": self.cmd},
                "rootfs": {"type": "layers", "diff_ids": [f"sha256:{sha(x)}" for x in self.layers]},
                "history": history,
            }
        ).encode()


def files(*members, mode: str = "w") -> bytes:
    """A tar of (name, bytes) files, compressed as ``mode`` says ("w:gz", "w:xz"...)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _tar(members: list[tuple[str, bytes]], links: dict | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return out.getvalue()


def docker_classic(image: Image, manifest_last: bool = True, share_first_layer: bool = False):
    """``docker save`` before Docker 25: <id>/layer.tar, <hex>.json, manifest.json."""
    config = image.config()
    config_name = f"{sha(config)}.json"
    members = []
    links = {}
    names = []
    for i, data in enumerate(image.layers):
        layer_id = sha(f"layer{i}".encode())
        if share_first_layer and i == len(image.layers) - 1 and i > 0:
            links[f"{layer_id}/layer.tar"] = f"../{sha(b'layer0')}/layer.tar"
        else:
            members.append((f"{layer_id}/layer.tar", data))
        members.append((f"{layer_id}/VERSION", b"1.0"))
        members.append((f"{layer_id}/json", json.dumps({"id": layer_id}).encode()))
        names.append(f"{layer_id}/layer.tar")
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["t:1"], "Layers": names}])
    tail = [(config_name, config), ("manifest.json", manifest.encode())]
    members = members + tail if manifest_last else tail + members
    return _tar(members, links)


def _oci_blobs(image: Image, compression: str):
    """(blobs {name: bytes}, index json, manifest json) of an OCI layout."""
    blobs = {}

    def put(data: bytes) -> str:
        digest = sha(data)
        blobs[f"blobs/sha256/{digest}"] = data
        return f"sha256:{digest}"

    config = image.config()
    media = {"gzip": ".tar+gzip", "zstd": ".tar+zstd", "none": ".tar"}[compression]
    layer_descs = []
    for data in image.layers:
        packed = compress(data, compression)
        layer_descs.append(
            {
                "mediaType": f"application/vnd.oci.image.layer.v1{media}",
                "digest": put(packed),
                "size": len(packed),
            }
        )
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": put(config),
            "size": len(config),
        },
        "layers": layer_descs,
    }
    manifest_bytes = json.dumps(manifest).encode()
    manifest_digest = put(manifest_bytes)
    index_entries = [
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": len(manifest_bytes),
            "annotations": {"org.opencontainers.image.ref.name": "t:1"},
        }
    ]
    for statement in image.attestations:
        data = json.dumps(statement).encode()
        att_config = b"{}"
        att = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": put(att_config)},
            "layers": [
                {
                    "mediaType": "application/vnd.in-toto+json",
                    "digest": put(data),
                    "size": len(data),
                    "annotations": {"in-toto.io/predicate-type": statement.get("predicateType")},
                }
            ],
        }
        att_bytes = json.dumps(att).encode()
        index_entries.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": put(att_bytes),
                "size": len(att_bytes),
                "annotations": {
                    "vnd.docker.reference.type": "attestation-manifest",
                    "vnd.docker.reference.digest": manifest_digest,
                },
            }
        )
    index = {"schemaVersion": 2, "manifests": index_entries}
    return blobs, index, manifest, layer_descs, config


def oci_archive(image: Image, compression: str = "gzip") -> bytes:
    blobs, index, *_ = _oci_blobs(image, compression)
    members = [("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')]
    members += list(blobs.items())
    members.append(("index.json", json.dumps(index).encode()))
    return _tar(members)


def docker_oci(image: Image, compression: str = "none") -> bytes:
    """``docker save`` of Docker 25+: an OCI layout plus manifest.json."""
    blobs, index, manifest, layer_descs, _ = _oci_blobs(image, compression)
    config_name = "blobs/sha256/" + manifest["config"]["digest"].split(":")[1]
    docker_manifest = [
        {
            "Config": config_name,
            "RepoTags": ["t:1"],
            "Layers": ["blobs/sha256/" + d["digest"].split(":")[1] for d in layer_descs],
        }
    ]
    members = list(blobs.items())
    members += [
        ("index.json", json.dumps(index).encode()),
        ("manifest.json", json.dumps(docker_manifest).encode()),
        ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
    ]
    return _tar(members)


def oci_dir(image: Image, root: Path, compression: str = "gzip") -> Path:
    blobs, index, *_ = _oci_blobs(image, compression)
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps(index))
    for name, data in blobs.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def write(tmp_path: Path, data: bytes, name: str = "image.tar") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)
