"""What the benchmark measures beside the audit and its peers, each run as a child process:

    python benchmarks/probes.py floor ARCHIVE      the machine's floor for auditing ARCHIVE: read
                                                   every byte once and sha256 it, a slice per core
    python benchmarks/probes.py sha256-speed       one core's sha256 speed, in GB/s
    python benchmarks/probes.py inventory ARCHIVE  a docker-archive's layers (files, entries,
                                                   bytes in files), as JSON

The floor is what any audit must do (read the image, hash every blob to check its digest) at the
best parallelism this machine has; it uses hashlib, as the audit does.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tarfile
import threading
import time

CHUNK = 1 << 20


def floor(path: str) -> int:
    size = os.path.getsize(path)
    cores = os.cpu_count() or 1
    step = -(-size // cores)
    digests: list[str | None] = [None] * cores

    def part(i: int) -> None:
        at, end = i * step, min(size, (i + 1) * step)
        digest = hashlib.sha256()
        view = memoryview(bytearray(CHUNK))
        with open(path, "rb", buffering=0) as handle:
            handle.seek(at)
            while at < end:
                got = handle.readinto(view[: min(CHUNK, end - at)])
                if not got:
                    return  # shorter than it was: no digest, a failed run
                digest.update(view[:got])  # (hashlib lets go of the GIL: the slices run at once)
                at += got
        digests[i] = digest.hexdigest()

    threads = [threading.Thread(target=part, args=(i,)) for i in range(cores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 0 if None not in digests else 1


def sha256_speed() -> int:
    """The best of four passes over 64 MiB in memory, by the CPU time this thread took: the
    machine's speed, not its load's (time spent waiting for a core is not counted)."""
    data = bytes(64 * CHUNK)
    best = 0.0
    for _ in range(4):
        start = time.thread_time()
        hashlib.sha256(data)
        best = max(best, len(data) / max(time.thread_time() - start, 1e-9))
    print(f"{best / 1e9:.3f}")
    return 0


def inventory(path: str) -> int:
    layers = []
    with tarfile.open(path) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))
        for name in manifest[0]["Layers"]:
            files = entries = size = 0
            with tarfile.open(fileobj=archive.extractfile(name), mode="r|*") as layer:
                for member in layer:
                    entries += 1
                    if member.isreg():
                        files += 1
                        size += member.size
            layers.append({"files": files, "entries": entries, "bytes": size})
    print(json.dumps({"images": len(manifest), "layers": layers}))
    return 0


if __name__ == "__main__":
    probe, *args = sys.argv[1:]
    sys.exit({"floor": floor, "sha256-speed": sha256_speed, "inventory": inventory}[probe](*args))
