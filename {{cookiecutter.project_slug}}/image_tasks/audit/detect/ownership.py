"""Which files a package manager installed: the records, and settling held findings by them.

A file in a package tree gets the package-tree policy (`rules`) only when a package manager owns
it: it is listed in an installed distribution's ``*.dist-info/RECORD`` (with the same size, and
the same sha256 where the audit computed one), in dpkg's ``var/lib/dpkg/info/*.list``, or in a
conda environment's ``conda-meta/*.json``, in the same layer or a lower one (and that record
was not deleted in between).  The generic-pattern findings of package-tree files are therefore
held, not reported, while a layer is read (`Candidate`, a few per file), because the records
can come after the files in the stream; they are settled when the layer ends for the files
its own records list (`settle_own`), and for the rest once every layer is read (`settle`):
kept for a file nobody owns, dropped for an owned one.  An owned file whose size or sha256
differs from its RECORD is itself a finding (``package-file-modified``).
"""

from __future__ import annotations

import base64
import json
import posixpath
import re
from array import array
from dataclasses import dataclass, field

from ..findings import Finding
from ..image.tar import normalise, printable

RECORD_LIMIT = 16 << 20  # a record file larger than this is read no further (noted)
_DIST_RECORD = re.compile(r"(?:^|/)[^/]+\.dist-info/RECORD$")
_DPKG_LIST = re.compile(r"^var/lib/dpkg/info/[^/]+\.list$")
_CONDA_META = re.compile(r"(?:^|/)conda-meta/[^/]+\.json$")


def is_record(path: str) -> bool:
    """Is this (normalised) path a package manager's record of the files it installed?"""
    if path.endswith("/RECORD"):
        return _DIST_RECORD.search(path) is not None
    if path.endswith(".list"):
        return _DPKG_LIST.match(path) is not None
    return path.endswith(".json") and _CONDA_META.search(path) is not None


# What a record says of a file: (size, urlsafe-base64 sha256), each None where it does not say.
# Plain tuples, not objects: a worker process sends tens of thousands of them (pickled 5x faster).
Owned = tuple[int | None, str | None]
UNSAID: Owned = (None, None)
# A file a layer's records list: (path, size, sha256, the record's path), by `key`.
Entry = tuple[str, int | None, str | None, str]


def parse_record(path: str, data: bytes) -> dict[str, Owned]:
    """The files a record at ``path`` lists, by path normalised as member names are."""
    text = data.decode("utf-8", "surrogateescape")
    if path.endswith("/RECORD"):
        return _dist_record(path, text)
    if path.endswith(".list"):
        listed = (normalise(line.strip()) for line in text.splitlines())
        return {name: UNSAID for name in listed if name}
    return _conda_meta(path, text)


def _under(root: str, name: str) -> str:
    """``name`` (relative to the folder ``root``, or absolute) as a normalised member name."""
    return normalise(name if name.startswith("/") else f"{root}/{name}")


def _dist_record(path: str, text: str) -> dict[str, Owned]:
    # RECORD lines: path,sha256=<urlsafe b64, unpadded>,size; paths relative to the folder that
    # holds the .dist-info folder (site-packages), sometimes with ../ (scripts in bin/)
    root = posixpath.dirname(posixpath.dirname(path))
    owned = {}
    for line in text.splitlines():
        rest = line.rsplit(",", 2)  # a path may hold commas; the hash and size do not
        if len(rest) != 3:
            continue
        name, digest, size = rest
        sha = digest[7:] if digest.startswith("sha256=") else None
        owned[_under(root, name.strip('"'))] = (int(size) if size.isdigit() else None, sha)
    return owned


def _conda_meta(path: str, text: str) -> dict[str, Owned]:
    prefix = posixpath.dirname(posixpath.dirname(path))
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, list):
        return {}
    # sizes are not checked: conda rewrites its prefix into text files after installing them
    return {_under(prefix, str(name)): UNSAID for name in files}


@dataclass
class Candidate:
    """A package-tree file's held findings, with what the settling compares."""

    path: str
    size: int
    sha256: str | None  # urlsafe base64, as RECORD writes it; None where not computed
    findings: list[Finding] = field(default_factory=list)


def sha256_b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# A path's 64-bit key (worker processes send keys, not paths): its str hash, the same in every
# process of an audit (workers are forked, and share this process's hash seed), and keyed by
# that random seed, so no collision can be made up in advance.
key = hash


class TreeFiles:
    """The package-tree files of a layer, by key and size: 16 bytes a file, whatever its path,
    so that memory stays flat however many files an image holds.  Byte code is left out:
    Python rewrites it as it likes, and it holds no text for a generic rule."""

    def __init__(self) -> None:
        self.keys = array("q")
        self.sizes = array("q")

    def add(self, path: str, size: int) -> None:
        if not path.endswith(".pyc"):
            self.keys.append(key(path))
            self.sizes.append(size)


def keyed(record: str, files: dict[str, Owned]) -> dict[int, Entry]:
    """A parsed record's files by key."""
    return {key(path): (path, *owned, record) for path, owned in files.items()}


class Ledger:
    """The records of an image's layers, bottom first: who owns a path as of a layer.

    ``deleted(path, first, last)`` says whether a layer from ``first`` to ``last`` deleted
    ``path``: a record deleted by a later layer no longer owns anything from there on."""

    def __init__(self, deleted) -> None:
        self.layers: list[dict[int, Entry]] = []
        self.deleted = deleted

    def add_layer(self, owned: dict[int, Entry]) -> None:
        """``owned``: what the layer's records list, by key (`keyed`)."""
        self.layers.append(owned)

    def owner(self, file_key: int, layer: int) -> Entry | None:
        """The record entry of the file with ``file_key`` as of ``layer`` (the newest
        record's), or None: nobody's."""
        for j in range(min(layer, len(self.layers) - 1), -1, -1):
            entry = self.layers[j].get(file_key)
            if entry is not None and not self.deleted(entry[3], j + 1, layer):
                return entry
        return None


def settle(candidates: list[Candidate], tree: TreeFiles, layer: int, ledger: Ledger):
    """Findings that stand for one layer: held ones of files nobody owns, and a finding for
    each owned file whose size (or sha256, where computed) differs from its RECORD."""
    out: list[Finding] = []
    held = {key(c.path): c for c in candidates}
    for file_key, size in zip(tree.keys, tree.sizes, strict=True):
        found = ledger.owner(file_key, layer)
        candidate = held.pop(file_key, None)
        if found is None:
            if candidate is not None:
                out.extend(candidate.findings)
        else:
            out += _owned_file(found, size, candidate)
    for candidate in held.values():  # a text file named like byte code: not in the tree
        out.extend(candidate.findings)
    return out


def settle_own(candidates: list[Candidate], tree: TreeFiles, owned: dict[int, Entry]):
    """Settle the files of a layer that its own records list, where the layer is read (in a
    worker process): those records are the newest for them, so no other layer can change the
    answer.  Returns the findings that stand, and the candidates and tree files left for
    `settle` (owned by a lower layer, or by nobody)."""
    out: list[Finding] = []
    held = {key(c.path): c for c in candidates}
    rest = TreeFiles()
    for file_key, size in zip(tree.keys, tree.sizes, strict=True):
        found = owned.get(file_key)
        if found is None:
            rest.keys.append(file_key)
            rest.sizes.append(size)
        else:
            out += _owned_file(found, size, held.pop(file_key, None))
    return out, list(held.values()), rest


def _owned_file(entry: Entry, size: int, candidate: Candidate | None) -> list[Finding]:
    """An owned file's findings: one when its size (or sha256, where computed) differs from its
    record, with its held ones then; none otherwise."""
    path, recorded_size, recorded_sha256, _ = entry
    digest = candidate.sha256 if candidate is not None else None
    size_differs = recorded_size is not None and recorded_size != size
    sha256_differs = recorded_sha256 and digest is not None and recorded_sha256 != digest
    if not (size_differs or sha256_differs):
        return []
    modified = Finding(
        "package-file-modified",
        "/" + printable(path),
        "file owned by an installed package differs from its record "
        f"({'size' if size_differs else 'sha256'})",
    )
    return [modified, *(candidate.findings if candidate is not None else ())]
