"""From scanned blobs to a report: integrity, images, ownership, attribution, the policy.

Digests are checked first (a blob named by its digest, a layer against the config's diff_id);
then, image by image, the layers' held findings are settled by the package records
(`ownership`), every finding gets its layer, history step, deleting layer and Dockerfile
instruction (`attribution`), and the config, manifests and attestations are scanned
(`documents`).  Blobs that no image uses are reported as archive members.
"""

from __future__ import annotations

import dataclasses
import re

from ..detect import ownership
from ..errors import AuditError
from ..findings import Finding, Gap, ImageInfo, LayerInfo, Report
from ..image.layouts import Layout
from ..image.tar import printable
from .attribution import attribute, deleted_in, locate
from .blobs import Blob
from .dockerfile import map_layers
from .documents import scan_json

HEX64 = re.compile(r"[0-9a-f]{64}")


def verify(blobs: dict[str, Blob], layout: Layout) -> None:
    """Every blob against its name (a digest), the size its descriptors declare, and every layer
    against its config's diff_id (compressed or not); blobs the deadline left unread (a gap
    says so) are not checked."""
    for name, blob in blobs.items():
        if not blob.digest:
            continue
        expected = None
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "blobs":
            if parts[1] != "sha256":
                if name in layout.sizes:
                    raise AuditError(
                        f"{printable(name)!r} is named by a {parts[1]} digest, which the audit "
                        "does not check; save the image with sha256 digests."
                    )
                continue
            expected = parts[2]
        elif len(parts) == 1 and name.endswith(".json") and HEX64.fullmatch(name[:-5]):
            expected = name[:-5]
        if expected is not None and expected != blob.digest:
            raise AuditError(
                f"the digest of {printable(name)!r} does not match its name (sha256 "
                f"{blob.digest}); the archive is corrupt or was tampered with. Save the "
                "image again."
            )
        declared = layout.sizes.get(name)
        if declared is not None and declared != blob.size:
            raise AuditError(
                f"{printable(name)!r} holds {blob.size} bytes where its descriptor says "
                f"{declared}; the archive is corrupt or was tampered with. Save the image again."
            )
    for image in layout.images:
        if len(image.diff_ids) != len(image.layers):
            raise AuditError(
                f"the config of {image.name} lists {len(image.diff_ids)} diff_ids for "
                f"{len(image.layers)} layers; the archive is corrupt or was tampered with."
            )
        for i, key in enumerate(image.layers):
            blob = blobs[key]
            if blob.kind != "layer":
                raise AuditError(
                    f"layer {i} ({printable(key)!r}) of {image.name} is not a tar, gzip, "
                    "zstd, bzip2 or xz stream; the archive is corrupt."
                )
            if not blob.digest or blob.result.gaps:  # (a gap instead: not read to its end)
                continue
            read = blob.digest if blob.compression == "none" else blob.diff_id
            if image.diff_ids[i] != f"sha256:{read}":
                raise AuditError(
                    f"layer {i} ({printable(key)!r}) of {image.name} does not match the "
                    "config's diff_id (the sha256 of its uncompressed bytes); the archive is "
                    "corrupt or was tampered with. Save the image again."
                )


def gaps(blobs: dict[str, Blob], layout: Layout | None) -> list[Gap]:
    """What the blobs' scans could not read to the end, each on its layer."""
    index = {}
    for image in layout.images if layout is not None else ():
        for i, key in enumerate(image.layers):
            index.setdefault(key, i)
    out = []
    for key, blob in blobs.items():
        for gap in blob.gaps + (blob.result.gaps if blob.result else []):
            gap.layer = index.get(gap.blob if gap.blob is not None else key)
            out.append(gap)
    return out


def _document(matcher, blob: Blob, pseudo: str, location: str, key: str | None) -> list[Finding]:
    """A JSON document's findings: its strings as parsed, and the canaries its bytes hold that
    no string showed (an escape the parse undid the other way, a byte outside any string)."""
    seen: set[int] = set()
    found = scan_json(matcher, blob.doc, pseudo, location, key, seen)
    for canary, finding in blob.raw.items():
        if canary not in seen:
            found.append(dataclasses.replace(finding, path=pseudo, blob=key))
    return found


def _layer_findings(blobs, image) -> list[Finding]:
    """The findings of an image's layers: each layer's own, and its held ones that stand once
    the records of it and the layers below have spoken."""
    results = [blobs[key].result for key in image.layers]
    ledger = ownership.Ledger(
        lambda path, first, last: deleted_in(path, results, first, last) is not None
    )
    out = []
    seen = set()
    for i, key in enumerate(image.layers):
        result = results[i]
        ledger.add_layer(result.owned)
        if key in seen:  # a layer shared twice (classic docker save) is reported once
            continue
        seen.add(key)
        out += [dataclasses.replace(f) for f in result.findings]
        for f in ownership.settle(result.candidates, result.tree, i, ledger):
            f.blob = key
            out.append(dataclasses.replace(f))
    return out


def findings(matcher, blobs: dict[str, Blob], layout: Layout, report: Report, instructions=None):
    """Every finding of the source; ``instructions``: the parsed Dockerfile, if one was given."""
    out: list[Finding] = []
    several = len(layout.images) > 1
    used: set[str] = set(layout.manifests) | set(layout.attestations)
    for image in layout.images:
        used.add(image.config)
        used.update(image.layers)
        for key in dict.fromkeys(image.layers):
            for note in blobs[key].result.notes:
                if note not in report.notes:
                    report.notes.append(note)
        image_findings = _layer_findings(blobs, image)
        attribute(image_findings, [(k, blobs[k].result) for k in image.layers], image.history)
        for f in _document(matcher, blobs[image.config], "<config>", "config", None):
            m = re.match(r"<config>/history/(\d+)/", f.path + "/")
            if m:
                f.location = "history"
                layer = image.history_index.get(int(m.group(1)))
                if layer is not None:
                    f.layer = layer
                    f.created_by = image.history[layer]
            image_findings.append(f)
        for f in image_findings:
            if f.layer is not None and f.layer < len(image.layers):
                f.layer_digest = blobs[image.layers[f.layer]].digest
            if several:
                f.image = image.name
        if instructions is not None:
            locate(image_findings, image, instructions, map_layers(instructions, image.steps))
        out.extend(image_findings)
    for key, kind in layout.attestations.items():
        if blobs[key].doc is not None:
            out.extend(_document(matcher, blobs[key], f"<{kind}>", "attestation", key))
        for f in blobs[key].findings:
            f.location = "attestation"
            out.append(f)
    # manifest.json (RepoTags...), index.json and every manifest and nested index reached
    # from it (annotations, descriptors): scanned like the config
    for key in sorted(layout.manifests):
        if blobs[key].doc is not None:
            out.extend(_document(matcher, blobs[key], f"<{key}>", "manifest", key))
    for key, blob in blobs.items():
        if key in used:
            continue
        if blob.kind == "json":
            found = _document(matcher, blob, f"<archive>/{key}", "archive", key)
        else:
            found = list(blob.findings) + (blob.result.findings if blob.result else [])
        for f in found:
            f.location = "archive"
            if not f.path.startswith("<archive>"):
                f.message += f" (in the archive member {printable(key)}, not part of an image)"
            out.append(f)
    return out


def images(blobs: dict[str, Blob], layout: Layout, display: str) -> list[ImageInfo]:
    """Each image audited, named by the archive (a tag) or else by the display name."""
    return [
        ImageInfo(
            name=image.name if image.tagged or len(layout.images) > 1 else display,
            config_digest="sha256:" + blobs[image.config].digest,
        )
        for image in layout.images
    ]


def layers(blobs: dict[str, Blob], image, scrub) -> list[LayerInfo]:
    out = []
    for i, key in enumerate(image.layers):
        blob = blobs[key]
        out.append(
            LayerInfo(
                index=i,
                digest="sha256:" + blob.digest,
                created_by=scrub(image.history[i] or "") if i < len(image.history) else None,
                compression=blob.compression or "none",
                files=blob.result.files,
                bytes=blob.result.bytes,
            )
        )
    return out
