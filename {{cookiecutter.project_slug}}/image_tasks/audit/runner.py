"""Run an audit: read the source once, scan every blob as it streams by, then resolve.

A ``docker save`` piped on stdin may put ``manifest.json`` after the layers, so nothing here
waits for the manifest: every member is classified by its first bytes (JSON documents are
kept, they are small; layers are scanned and only their findings kept; anything else is
scanned as an opaque file), hashed while it streams, and the layer numbers, history steps and
digests are resolved at the end.  From a plain archive file, one large member may be audited by
a forked worker process (`_Worker`) while this process reads on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pickle
import re
import signal
import stat
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import allowlist
from . import canaries as canaries_module
from .archive import Member, TarStream, printable
from .errors import AuditError
from .layouts import Layout, link_target, resolve
from .redaction import Scrubber
from .report import Finding, LayerInfo, Report
from .scanner import LayerResult, Scanner, attribute
from .streams import HashingReader, PeekReader, compression_of, open_layer

HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Limits:
    """Bounds that keep hostile input from costing unbounded memory or time."""

    json_bytes: int = 16 << 20  # JSON members larger than this are scanned, not parsed
    layer_ratio: int = 200  # a compressed layer may expand this many times its size...
    layer_floor: int = 8 << 30  # ...or to this many bytes, whichever is larger...
    layer_cap: int = 512 << 30  # ...but never beyond this
    max_members: int = 5_000_000  # per tar stream
    max_blobs: int = 100_000
    max_seconds: float = 3600.0
    # a member of a plain archive file at least this large is read and scanned by a forked
    # worker process while this one reads on (one at a time); 0: never
    parallel_bytes: int = 64 << 20


@dataclass
class Blob:
    name: str
    size: int
    digest: str = ""
    kind: str = "other"  # layer, json, other
    compression: str | None = None
    result: LayerResult | None = None
    findings: list[Finding] = field(default_factory=list)


class _Pieces:
    """A TarStream-like face over a whole non-tar blob, for the file scanner."""

    def __init__(self, upstream, size: int) -> None:
        self.upstream = upstream
        self.remaining = size
        self.buf = bytearray(1 << 20)
        self.view = memoryview(self.buf)

    def pieces(self):
        while self.remaining:
            barrier = getattr(self.upstream, "barrier", None)
            if barrier is not None:
                barrier()
            n = self.upstream.readinto(self.view[: min(len(self.buf), self.remaining)])
            if not n:
                self.remaining = 0
                return
            self.remaining -= n
            yield self.buf, 0, n


class Audit:
    def __init__(self, canary_set, scrub: Scrubber, strict: bool, limits: Limits):
        self.scanner = Scanner(canary_set, scrub, strict=strict)
        self.limits = limits
        self.scrub = scrub
        self.blobs: dict[str, Blob] = {}
        self.jsons: dict[str, object] = {}
        self.links: dict[str, str] = {}
        self.deadline = time.monotonic() + limits.max_seconds
        self.unterminated = False
        self.outer: list[Finding] = []  # from the outer archive's own pax records

    def _check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise AuditError(
                f"the audit took longer than {self.limits.max_seconds:.0f} s, its time limit; "
                "the source is unusually large or hostile."
            )

    # -- reading -----------------------------------------------------------------------------
    def read_archive(self, raw, what: str) -> None:
        peek = PeekReader(raw, 1024)
        kind = compression_of(peek.head)
        if kind is None:
            raise AuditError(
                f"{what} is not a tar archive (nor a compressed one); give a docker-archive, an "
                "OCI archive or layout directory, or an image reference."
            )
        reader, _ = open_layer(peek, what)
        outer = TarStream(reader, what, max_members=self.limits.max_blobs)
        worker = _Worker.start(self, raw, len(peek.head)) if reader is peek else None
        seen = 0
        try:
            for member in outer:
                seen += 1
                self._check_time()
                name = member.name
                if member.pax is not None:
                    for f in self.scanner.scan_pax(member, None):
                        f.message += f" (on the archive member {printable(name)})"
                        self.outer.append(f)
                if member.kind in ("symlink", "hardlink"):
                    self.links[name] = link_target(name, member.linkname, member.kind == "hardlink")
                    continue
                if member.kind != "file":
                    continue
                if worker is not None and worker.idle and member.size >= worker.min_size:
                    # the worker reads this member from its own handle; skip it here
                    blob = Blob(name, member.size)
                    self.blobs[name] = blob
                    worker.submit(blob, outer.offset)
                    outer.seek_past(worker.seek)
                    continue
                self.process(name, member.size, outer)
            if worker is not None:
                worker.collect(self)
        finally:
            if worker is not None:
                worker.stop()
        if not seen:
            raise AuditError(f"{what} is an empty tar archive; there is no image in it.")
        self.unterminated = not outer.clean_end

    def read_directory(self, root: Path) -> None:
        count = 0
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for filename in sorted(filenames):
                count += 1
                if count > self.limits.max_blobs:
                    raise AuditError(
                        f"the layout {root} has more than {self.limits.max_blobs} files."
                    )
                path = Path(dirpath, filename)
                name = path.relative_to(root).as_posix()
                if path.is_symlink():
                    target = os.readlink(path)
                    self.links[name] = link_target(name, target, False)
                    continue
                if not path.is_file():
                    continue
                self._check_time()
                try:
                    with open(path, "rb", buffering=0) as handle:
                        self.process(name, os.fstat(handle.fileno()).st_size, handle)
                except OSError as exc:
                    raise AuditError(
                        f"cannot read {path} ({exc.strerror}); check the layout's permissions."
                    ) from None

    def process(self, name: str, size: int, upstream) -> None:
        """Classify, hash and scan one blob of ``size`` bytes read from ``upstream``."""
        limits = self.limits
        blob = Blob(name, size)
        self.blobs[name] = blob
        hashing = HashingReader(upstream)
        peek = PeekReader(hashing, 1024)
        head = peek.head
        what = f"blob {printable(name)!r}"
        kind = compression_of(head)
        is_layer = (kind is not None and size >= 512) or kind not in (None, "none")
        if not is_layer and size <= limits.json_bytes and head.lstrip()[:1] in (b"{", b"["):
            data = bytearray(head)
            chunk = bytearray(1 << 16)
            view = memoryview(chunk)
            while True:
                n = hashing.readinto(view)
                if not n:
                    break
                hashing.barrier()
                data += view[:n]
                if len(data) > limits.json_bytes:
                    break
            blob.digest = hashing.hexdigest()
            try:
                self.jsons[name] = json.loads(bytes(data))
                blob.kind = "json"
                return
            except (ValueError, RecursionError):
                pass
            result = LayerResult()
            member = Member(name, name.encode(), "file", len(data), "", 0, 0)
            self.scanner._scan_file(member, _BytesPieces(bytes(data)), name, result)
            blob.findings = result.findings
            return
        if is_layer:
            reader, blob.compression = open_layer(peek, what)
            if blob.compression == "none":
                max_bytes = size
            else:
                max_bytes = min(
                    limits.layer_cap, max(limits.layer_floor, limits.layer_ratio * size)
                )
            inner = TarStream(
                reader,
                f"layer {printable(name)!r}",
                max_bytes=max_bytes,
                max_members=limits.max_members,
            )
            self.scanner.deadline = self.deadline
            blob.result = self.scanner.scan_layer(inner, blob=name)
            blob.kind = "layer"
            _drain(hashing)
        else:
            result = LayerResult()
            member = Member(name, name.encode(), "file", size, "", 0, 0)
            self.scanner._scan_file(member, _Pieces(peek, size), name, result)
            blob.findings = result.findings
            _drain(hashing)
        blob.digest = hashing.hexdigest()

    # -- resolving -----------------------------------------------------------------------------
    def verify(self, layout: Layout) -> None:
        for name, blob in self.blobs.items():
            expected = None
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == "blobs" and parts[1] == "sha256":
                expected = parts[2]
            elif len(parts) == 1 and name.endswith(".json") and HEX64.fullmatch(name[:-5]):
                expected = name[:-5]
            if expected is not None and expected != blob.digest:
                raise AuditError(
                    f"the digest of {printable(name)!r} does not match its name (sha256 "
                    f"{blob.digest}); the archive is corrupt or was tampered with. Save the "
                    "image again."
                )
        for image in layout.images:
            for i, key in enumerate(image.layers):
                blob = self.blobs[key]
                if blob.kind != "layer":
                    raise AuditError(
                        f"layer {i} ({printable(key)!r}) of {image.name} is not a tar, gzip or "
                        "zstd stream; the archive is corrupt."
                    )
                if (
                    blob.compression == "none"
                    and i < len(image.diff_ids)
                    and image.diff_ids[i].startswith("sha256:")
                    and image.diff_ids[i][7:] != blob.digest
                ):
                    raise AuditError(
                        f"layer {i} ({printable(key)!r}) of {image.name} does not match the "
                        "config's diff_id (sha256 mismatch); the archive is corrupt or was "
                        "tampered with. Save the image again."
                    )

    def findings(self, layout: Layout, report: Report) -> list[Finding]:
        out: list[Finding] = []
        several = len(layout.images) > 1
        used: set[str] = set(layout.manifests) | set(layout.attestations)
        for image in layout.images:
            used.add(image.config)
            used.update(image.layers)
            layers = [(key, self.blobs[key].result) for key in image.layers]
            image_findings = []
            for key in dict.fromkeys(image.layers):
                for f in self.blobs[key].result.findings:
                    image_findings.append(dataclasses.replace(f))
                for note in self.blobs[key].result.notes:
                    if note not in report.notes:
                        report.notes.append(note)
            attribute(image_findings, layers, image.history)
            config = self.jsons[image.config]
            for f in self.scanner.scan_json(config, "<config>", "config", blob=None):
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
                    f.layer_digest = self.blobs[image.layers[f.layer]].digest
                if several:
                    f.image = image.name
            out.extend(image_findings)
        for key, kind in layout.attestations.items():
            doc = self.jsons.get(key)
            if doc is not None:
                out.extend(self.scanner.scan_json(doc, f"<{kind}>", "attestation", blob=key))
            for f in self.blobs[key].findings:
                f.location = "attestation"
                out.append(f)
        # manifest.json (RepoTags...), index.json and every manifest and nested index reached
        # from it (annotations, descriptors): scanned like the config
        for key in sorted(layout.manifests):
            doc = self.jsons.get(key)
            if doc is not None:
                out.extend(self.scanner.scan_json(doc, f"<{key}>", "manifest", blob=key))
        out.extend(self.outer)
        for key, blob in self.blobs.items():
            if key in used:
                continue
            if key in self.jsons:
                found = self.scanner.scan_json(self.jsons[key], f"<archive>/{key}", "archive", key)
            else:
                found = list(blob.findings) + (blob.result.findings if blob.result else [])
            for f in found:
                f.location = "archive"
                if not f.path.startswith("<archive>"):
                    f.message += f" (in the archive member {printable(key)}, not part of an image)"
                out.append(f)
        return out


class _Slice:
    """readinto() over ``size`` bytes of a file from ``offset`` (pread: no shared file offset)."""

    def __init__(self, fd: int, offset: int, size: int) -> None:
        self.fd = fd
        self.offset = offset
        self.left = size

    def readinto(self, view) -> int:
        n = min(len(view), self.left)
        if n <= 0:
            return 0
        k = os.preadv(self.fd, [view[:n]], self.offset)
        self.offset += k
        self.left -= k
        return k


class _Worker:
    """A forked process that audits one large member of a plain archive file while the main
    process reads on (its sha256 and its scan run on the other core).

    Forked before any thread starts (a fork with threads could deadlock); it opens the file
    anew, seeks to the member, runs the same `Audit.process` on it and pipes back the blob
    (digest, findings, deletions), any JSON document and the secrets its scrubber learnt.  Its
    errors are raised by the main process as if it had read the member itself.
    """

    def __init__(
        self, pid: int, jobs: int, results: int, fd: int, base: int, min_size: int
    ) -> None:
        self.pid = pid
        self.base = base  # file offset of the stream's first byte
        self.jobs = jobs
        self.results = results
        self.fd = fd
        self.min_size = min_size
        self.idle = True
        self.blob: Blob | None = None

    @classmethod
    def start(cls, audit: Audit, raw, peeked: int) -> _Worker | None:
        """Fork a worker for ``raw`` (read so far: ``peeked`` bytes) when that can help."""
        min_size = audit.limits.parallel_bytes
        if (
            min_size <= 0
            or not hasattr(os, "fork")
            or not hasattr(os, "preadv")
            or threading.active_count() != 1
        ):
            return None
        try:
            fd = raw.fileno()
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size < 2 * min_size:
                return None
            base = os.lseek(fd, 0, os.SEEK_CUR) - peeked
        except (AttributeError, OSError, ValueError):
            return None
        jobs_r, jobs_w = os.pipe()
        results_r, results_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            status = 1
            try:
                os.close(jobs_w)
                os.close(results_r)
                _work(audit, fd, jobs_r, results_w)
                status = 0
            finally:
                os._exit(status)
        os.close(jobs_r)
        os.close(results_w)
        return cls(pid, jobs_w, results_r, fd, base, min_size)

    def seek(self, n: int) -> None:
        os.lseek(self.fd, n, os.SEEK_CUR)

    def submit(self, blob: Blob, offset: int) -> None:
        self.idle = False
        self.blob = blob
        with os.fdopen(os.dup(self.jobs), "wb") as out:
            pickle.dump((blob.name, blob.size, self.base + offset), out)

    def collect(self, audit: Audit) -> None:
        if self.blob is None:
            return
        with os.fdopen(os.dup(self.results), "rb") as incoming:
            try:
                reply = pickle.load(incoming)  # noqa: S301 (our own child, a private pipe)
            except (EOFError, pickle.UnpicklingError):
                reply = ("crash", "no reply")
        blob, self.blob = self.blob, None
        if reply[0] == "error":
            raise AuditError(reply[1])
        if reply[0] != "ok":
            raise RuntimeError(f"the audit's worker process failed ({reply[1]})")
        _, done, doc, secrets = reply
        for secret in secrets:
            audit.scrub.add(secret)
        if audit.blobs.get(blob.name) is blob:  # not replaced by a later member of that name
            audit.blobs[blob.name] = done
            if doc is not None:
                audit.jsons[blob.name] = doc

    def stop(self) -> None:
        """Close the pipes and reap the worker (killed if it is still busy: an error)."""
        os.close(self.jobs)
        if self.blob is not None:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
        os.close(self.results)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def _work(audit: Audit, fd: int, jobs: int, results: int) -> None:
    """The worker's side of `_Worker`: one job, one reply."""
    with os.fdopen(jobs, "rb") as incoming:
        try:
            name, size, offset = pickle.load(incoming)  # noqa: S301 (from our parent)
        except EOFError:
            return  # nothing to do
    try:
        audit.process(name, size, _Slice(fd, offset, size))
        reply = ("ok", audit.blobs[name], audit.jsons.get(name), sorted(audit.scrub.secrets))
    except AuditError as exc:
        reply = ("error", str(exc))
    except OSError as exc:
        reply = ("error", f"cannot read the archive ({exc.strerror}).")
    except MemoryError:
        reply = (
            "error",
            "ran out of memory; the source is hostile or far larger than an image should be.",
        )
    except Exception as exc:
        reply = ("crash", type(exc).__name__)
    with contextlib.suppress(OSError), os.fdopen(results, "wb") as out:
        pickle.dump(reply, out)


class _BytesPieces:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.remaining = len(data)

    def pieces(self):
        self.remaining = 0
        if self.data:
            yield self.data, 0, len(self.data)


def _drain(reader) -> None:
    scratch = memoryview(bytearray(1 << 20))
    barrier = getattr(reader, "barrier", None)
    while True:
        if barrier is not None:
            barrier()  # the scratch buffer is reused: its previous hash must be done
        if not reader.readinto(scratch):
            break
    barrier = getattr(reader, "barrier", None)
    if barrier is not None:
        barrier()


def _stdin():
    stream = sys.stdin.buffer
    return getattr(stream, "raw", stream)


def run(
    source: str,
    canaries: Sequence[str | canaries_module.Canary] = (),
    *,
    allow_list: str | None = None,
    allow_entries: Sequence[allowlist.Entry] | None = None,
    strict: bool = False,
    limits: Limits | None = None,
    notes: Sequence[str] = (),
) -> Report:
    """Audit ``source`` for the given canaries and the rules; see the package docstring.

    ``notes`` (secret-free, e.g. from `canaries.from_sources`) are added to the report's."""
    limits = limits or Limits()
    items = [
        c if isinstance(c, canaries_module.Canary) else canaries_module.Canary(f"canary #{i}", c)
        for i, c in enumerate(canaries, 1)
    ]
    canary_set = canaries_module.build(items)
    scrub = Scrubber()
    entries = list(allow_entries or ())
    if allow_list:
        entries += allowlist.load(allow_list)
    audit = Audit(canary_set, scrub, strict, limits)
    # the sha256 worker needs the GIL briefly per buffer; a short switch interval lets it
    # overlap with scanning instead of waiting for the default 5 ms slice
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0002))
    try:
        report = _run(audit, source, canary_set, scrub, strict, entries)
    finally:
        sys.setswitchinterval(interval)
    report.notes[:0] = [n for n in notes if n not in report.notes]
    return report


def _run(audit, source, canary_set, scrub, strict, entries) -> Report:
    shown = source
    if source == "-":
        shown = "standard input"
        audit.read_archive(_stdin(), "the archive on standard input")
    elif Path(source).is_dir():
        audit.read_directory(Path(source))
    elif Path(source).exists():
        try:
            with open(source, "rb", buffering=0) as handle:
                audit.read_archive(handle, f"the archive {source!r}")
        except OSError as exc:
            raise AuditError(f"cannot read {source!r} ({exc.strerror}).") from None
    elif looks_like_path(source):
        raise AuditError(
            f"no such file: {source!r}; check the path (it looks like a file path, so it is "
            "not tried as an image reference)."
        )
    else:
        _read_reference(audit, source)
    try:
        layout = resolve(audit.jsons, set(audit.blobs), audit.links)
        audit.verify(layout)
    except AuditError as exc:
        if audit.unterminated:
            raise AuditError(
                "the archive ends without tar's end-of-archive marker, so it is probably "
                f"truncated; {exc}"
            ) from None
        raise
    report = Report(source=shown, scrub=scrub)
    report.canaries = [c.label for c in canary_set.canaries]
    report.images = [
        {"name": scrub(image.name), "config_digest": "sha256:" + audit.blobs[image.config].digest}
        for image in layout.images
    ]
    for label in canary_set.skipped:
        report.notes.append(
            f"{label} is shorter than {canaries_module.MIN_CANARY} characters; not searched"
        )
    report.policy = {
        "pattern_rules_scope": "strict (everywhere)"
        if strict
        else "package trees: installer-written files only",
        "pattern_rules_files": "text files (no NUL byte in the first 8 KiB)",
        "canaries": "every byte of every file as stored (compressed files inside a layer are "
        "not decompressed), names, link targets, pax records, config, manifests, attestations",
        "canary_base64_forms": "everywhere (line-wrapped base64: text files)"
        if strict
        else "text files and binaries up to 1 MiB (raw and percent forms: everywhere); "
        "line-wrapped base64: text files outside package trees",
    }
    findings = audit.findings(layout, report)
    for f in findings:  # every secret seen is known by now: scrub what the API hands out
        for name in ("path", "message", "excerpt", "location", "created_by", "deleted_by"):
            value = getattr(f, name)
            if value:
                setattr(f, name, scrub(value))
    report.findings, report.allowed = allowlist.split(findings, entries)
    image = layout.images[0]
    for i, key in enumerate(image.layers):
        blob = audit.blobs[key]
        report.layers.append(
            LayerInfo(
                index=i,
                digest="sha256:" + blob.digest,
                created_by=scrub(image.history[i] or "") if i < len(image.history) else None,
                compression=blob.compression or "none",
                files=blob.result.files,
                bytes=blob.result.bytes,
            )
        )
    return report


def looks_like_path(source: str) -> bool:
    """Does a SOURCE that names nothing on disk look like a mistyped path rather than an
    image reference (which never starts with '/', './', '../' nor ends with '.tar')?"""
    return "/" in source and (
        source.startswith(("/", "./", "../")) or source.endswith((".tar", ".tar.gz", ".tgz"))
    )


def _read_reference(audit: Audit, reference: str) -> None:
    try:
        from image_tasks import engines
        from image_tasks.errors import TaskError
    except ImportError:
        raise AuditError(
            f"{reference!r} is not a file or directory, and image references cannot be "
            "resolved here (image_tasks.engines is unavailable). Save the image first: docker "
            "save IMAGE -o image.tar, then audit image.tar."
        ) from None
    try:
        with engines.saved_archive(reference) as path, open(path, "rb", buffering=0) as handle:
            audit.read_archive(handle, f"the saved image {reference!r}")
    except TaskError as exc:
        raise AuditError(str(exc)) from None
    except OSError as exc:
        raise AuditError(f"cannot read the saved image {reference!r} ({exc.strerror}).") from None
