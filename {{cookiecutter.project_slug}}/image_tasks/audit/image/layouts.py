"""Image layouts: which member of an archive is which image's config, layer or attestation.

Understood:

* ``docker save``, classic: ``manifest.json`` -> ``Config`` (``<hex>.json``) and ``Layers``
  (``<id>/layer.tar``, possibly symlinks to a shared layer); layer digests are the config's
  ``rootfs.diff_ids``;
* ``docker save`` of Docker 25+ (OCI-style): ``manifest.json`` naming ``blobs/sha256/<hex>``,
  next to ``index.json`` and ``oci-layout``;
* an OCI image layout (a directory, or a tar of one such as ``podman save --format
  oci-archive``): ``index.json`` -> manifests (nested indexes followed) -> config and layers.

Attestation manifests (index entries annotated ``vnd.docker.reference.type:
attestation-manifest``) are collected too: their layers are in-toto statements (provenance,
SBOM) that the audit scans as JSON.

Every reading is kept: an archive with both ``manifest.json`` and ``index.json`` yields the
images of both (docker loads the first, containerd's import the second), once each when they
agree.  The sizes descriptors declare are collected (`Layout.sizes`) for the integrity check;
one blob declared with two sizes is an error.

This module only reads the small JSON documents already in memory; it never does I/O.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from ..errors import AuditError

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MAX_INDEX_DEPTH = 8


@dataclass
class Image:
    name: str  # a tag, or the manifest digest
    config: str  # member key of the config
    layers: list[str]  # member keys, bottom first
    diff_ids: list[str] = field(default_factory=list)
    history: list[str | None] = field(default_factory=list)  # created_by per layer
    history_index: dict[int, int] = field(default_factory=dict)  # history step -> layer
    steps: list[str] = field(default_factory=list)  # created_by of every history step
    tagged: bool = False  # whether ``name`` is a tag the archive gives (not a digest or key)


@dataclass
class Layout:
    images: list[Image] = field(default_factory=list)
    attestations: dict[str, str] = field(default_factory=dict)  # member key -> what it is
    manifests: set[str] = field(default_factory=set)  # member keys of manifests and indexes
    sizes: dict[str, int] = field(default_factory=dict)  # member key -> size a descriptor says

    def declare(self, key: str, descriptor: dict) -> None:
        size = descriptor.get("size")
        if not isinstance(size, int) or isinstance(size, bool):
            return
        if self.sizes.setdefault(key, size) != size:
            raise AuditError(
                f"descriptors declare two sizes for {key!r}; the layout is corrupt or hostile."
            )


def blob_key(digest: str) -> str:
    algorithm, _, hexpart = str(digest).partition(":")
    if not hexpart or "/" in hexpart or "/" in algorithm or ".." in hexpart:
        raise AuditError(f"a manifest names a malformed digest {printable_digest(digest)}.")
    return f"blobs/{algorithm}/{hexpart}"


def printable_digest(digest) -> str:
    text = str(digest)[:80]
    return repr(text)


def resolve_link(name: str, links: dict[str, str]) -> str:
    """Follow archive-internal symlinks (classic docker save shares layers that way)."""
    seen = 0
    while name in links and seen < 16:
        name = links[name]
        seen += 1
    return name


def link_target(member_name: str, target: str, hard: bool) -> str:
    if hard:
        return posixpath.normpath(target).lstrip("/")
    base = posixpath.dirname(member_name)
    return posixpath.normpath(posixpath.join(base, target)).lstrip("/")


def _history(config: dict) -> tuple[list[str | None], dict[int, int]]:
    created: list[str | None] = []
    steps: dict[int, int] = {}
    history = config.get("history") if isinstance(config, dict) else None
    if isinstance(history, list):
        for step, entry in enumerate(history):
            if not isinstance(entry, dict) or entry.get("empty_layer"):
                continue
            steps[step] = len(created)
            text = entry.get("created_by")
            comment = entry.get("comment")
            created.append(str(text) if text else (str(comment) if comment else None))
    return created, steps


def _steps(config) -> list[str]:
    history = config.get("history") if isinstance(config, dict) else None
    if not isinstance(history, list):
        return []
    return [
        str(entry.get("created_by") or "") if isinstance(entry, dict) else "" for entry in history
    ]


def _diff_ids(config) -> list[str]:
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    return [str(x) for x in ids] if isinstance(ids, list) else []


def _image(name: str, tagged: bool, config_key: str, config: dict, layers: list[str]) -> Image:
    created, steps = _history(config)
    return Image(
        name=name,
        tagged=tagged,
        steps=_steps(config),
        config=config_key,
        layers=layers,
        diff_ids=_diff_ids(config),
        history=created,
        history_index=steps,
    )


def resolve(jsons: dict[str, object], present: set[str], links: dict[str, str]) -> Layout:
    """Work out the images of an archive or layout from its JSON members."""
    layout = Layout()

    def need(key: str, what: str) -> str:
        key = resolve_link(key, links)
        if key not in present:
            raise AuditError(
                f"the {what} {key!r} named by the image's manifest is missing from the "
                "archive; it is incomplete. Save the image again."
            )
        return key

    manifest = jsons.get("manifest.json")
    if manifest is not None:
        layout.manifests.add("manifest.json")
        if not isinstance(manifest, list):
            raise AuditError("manifest.json is not a list of images; the archive is corrupt.")
        for entry in manifest:
            if not isinstance(entry, dict) or not isinstance(entry.get("Layers"), list):
                raise AuditError(
                    "manifest.json has an entry without Layers; the archive is corrupt."
                )
            config_key = need(posixpath.normpath(str(entry.get("Config", ""))), "config")
            config = jsons.get(config_key)
            if not isinstance(config, dict):
                raise AuditError(f"the image config {config_key!r} is not a JSON object.")
            layers = [need(posixpath.normpath(str(x)), "layer") for x in entry["Layers"]]
            tags = entry.get("RepoTags") or []
            name = str(tags[0]) if tags else config_key
            layout.images.append(_image(name, bool(tags), config_key, config, layers))
    index = jsons.get("index.json")
    if index is not None:
        layout.manifests.add("index.json")
        _walk_index(index, jsons, present, layout, need, depth=0)
    if manifest is None and index is None:
        raise AuditError(
            "the source has neither manifest.json nor index.json: it is not a docker-archive, "
            "an OCI layout or an OCI archive. Save the image with 'docker save' or 'podman save "
            "--format oci-archive'."
        )
    if not layout.images:
        raise AuditError("the source holds no image manifest; nothing to audit.")
    unique: dict[tuple, Image] = {}
    for image in layout.images:  # (the same image read from manifest.json and index.json)
        unique.setdefault((image.config, tuple(image.layers)), image)
    layout.images = list(unique.values())
    return layout


def _walk_index(index, jsons, present, layout: Layout, need, depth: int) -> None:
    if depth > MAX_INDEX_DEPTH:
        raise AuditError("the image index nests too deeply; the layout is corrupt or hostile.")
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list):
        raise AuditError("an image index has no manifests list; the layout is corrupt.")
    for descriptor in manifests:
        if not isinstance(descriptor, dict) or "digest" not in descriptor:
            raise AuditError("an image index entry has no digest; the layout is corrupt.")
        annotations = descriptor.get("annotations") or {}
        key = need(blob_key(descriptor["digest"]), "manifest")
        layout.manifests.add(key)
        layout.declare(key, descriptor)
        doc = jsons.get(key)
        if not isinstance(doc, dict):
            raise AuditError(f"the manifest {key!r} is not a JSON object; the layout is corrupt.")
        media = descriptor.get("mediaType") or doc.get("mediaType")
        if media in INDEX_TYPES or "manifests" in doc:
            _walk_index(doc, jsons, present, layout, need, depth + 1)
            continue
        if isinstance(annotations, dict) and (
            annotations.get("vnd.docker.reference.type") == "attestation-manifest"
        ):
            for layer in doc.get("layers") or []:
                if isinstance(layer, dict) and "digest" in layer:
                    lkey = need(blob_key(layer["digest"]), "attestation")
                    layout.declare(lkey, layer)
                    kind = (layer.get("annotations") or {}).get("in-toto.io/predicate-type", "")
                    layout.attestations[lkey] = f"attestation {kind}".strip()
            continue
        config_desc = doc.get("config")
        if not isinstance(config_desc, dict) or "digest" not in config_desc:
            raise AuditError(f"the manifest {key!r} has no config; the layout is corrupt.")
        config_key = need(blob_key(config_desc["digest"]), "config")
        layout.declare(config_key, config_desc)
        config = jsons.get(config_key)
        if not isinstance(config, dict):
            raise AuditError(f"the image config {config_key!r} is not a JSON object.")
        layers = []
        for layer in doc.get("layers") or []:
            if not isinstance(layer, dict) or "digest" not in layer:
                raise AuditError(f"the manifest {key!r} has a malformed layer entry.")
            layers.append(need(blob_key(layer["digest"]), "layer"))
            layout.declare(layers[-1], layer)
        name = ""
        if isinstance(annotations, dict):
            name = annotations.get("org.opencontainers.image.ref.name") or annotations.get(
                "io.containerd.image.name", ""
            )
        shown = str(name or descriptor["digest"])
        layout.images.append(_image(shown, bool(name), config_key, config, layers))
