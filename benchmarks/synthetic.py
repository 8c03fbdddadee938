"""A synthetic docker-archive of about SIZE_MB megabytes, shaped like a Ray image (a base OS of
small files, a whiteout layer, a Python environment of sources and byte code, a few large
binaries), for the benchmark's linearity check.

    python benchmarks/synthetic.py DIR SIZE_MB     prints the archive's path
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path


def _sources() -> list[bytes]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = []
    for path in sorted(stdlib.glob("*.py"))[:400]:
        with contextlib.suppress(OSError):
            texts.append(path.read_bytes())
    return texts or [b"def f(x):\n    return x + 1\n" * 50]


def _layer(path: Path, files) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for name, data in files:
            parent = os.path.dirname(name)
            while parent and parent not in dirs:
                dirs.add(parent)
                info = tarfile.TarInfo(parent)
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
                parent = os.path.dirname(parent)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))


def make_synthetic(directory: Path, size_mb: int, seed: int = 7) -> Path:
    """Build a docker-archive of about ``size_mb`` MB; return its path."""
    rng = random.Random(seed)
    texts = _sources()
    budget = size_mb << 20
    site = "home/ray/anaconda3/lib/python3.11/site-packages"

    def text_file(i: int) -> bytes:
        return texts[i % len(texts)][: rng.randint(500, 60_000)]

    big = int(budget * 0.45)

    def base():  # 0: base OS: configs, scripts, docs, small binaries
        for i in range(1500):
            yield f"etc/conf.d/file{i}.conf", text_file(i)[:2000]
        for i in range(2500):
            yield f"usr/share/doc/pkg{i}/README", text_file(i + 7)[:4000]
        for i in range(150):
            yield (
                f"usr/lib/x86_64-linux-gnu/lib{i}.so.1",
                rng.randbytes(rng.randint(20_000, 400_000)),
            )
        for i in range(400):
            yield f"var/lib/apt/lists/list{i}", text_file(i)[:5000]

    def cleanup():  # 1: apt cleanup: whiteouts
        for i in range(400):
            yield f"var/lib/apt/lists/.wh.list{i}", b""
        yield "var/cache/.wh..wh..opq", b""

    def python_env():  # 2: the Python environment: sources and byte code
        used = 0
        i = 0
        while used < budget - big - (60 << 20):
            pkg = f"pkg{i // 40}"
            data = text_file(i)
            yield f"{site}/{pkg}/mod{i}.py", data
            used += len(data)
            if i % 2 == 0:
                pyc = b"\xa7\r\r\n\0\0\0\0" + rng.randbytes(len(data) // 3)
                yield f"{site}/{pkg}/__pycache__/mod{i}.cpython-311.pyc", pyc
                used += len(pyc)
            i += 1

    def noise(size: int) -> bytes:
        # random bytes, built from 64 MiB blocks: randbytes overflows past 256 MiB
        block = 64 << 20
        return b"".join(rng.randbytes(min(block, size - at)) for at in range(0, size, block))

    def ray():  # 3: Ray: a few big .so-like blobs with some strings in them
        for n, share in enumerate((0.4, 0.3, 0.2, 0.1)):
            size = int(big * share)
            yield f"{site}/ray/lib{n}.so", noise(size - 4096) + texts[n][:4096]

    def app():
        yield "home/ray/app/main.py", texts[0][:3000]
        yield "home/ray/.bashrc", b"# ray\n"

    def requirements():
        yield "home/ray/requirements.txt", b"ray[default]==2.60.0\nnumpy\n"

    layers = [base(), cleanup(), python_env(), ray(), app(), requirements()]
    history = []
    diff_ids = []
    blob_names = []
    out = directory / f"synthetic-{size_mb}mb.tar"
    work = directory / "layers"
    work.mkdir(exist_ok=True)
    with tarfile.open(out, "w") as archive:
        for n, files in enumerate(layers):
            path = work / f"layer{n}.tar"
            _layer(path, files)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            diff_ids.append(f"sha256:{digest}")
            blob_names.append(f"blobs/sha256/{digest}")
            archive.add(path, blob_names[-1])
            path.unlink()
            history.append({"created_by": f"RUN /bin/sh -c step-{n} # buildkit"})
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": ["PATH=/usr/bin:/bin", "HOME=/home/ray"], "User": "1000"},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        }
        config_bytes = json.dumps(config).encode()
        config_name = f"blobs/sha256/{hashlib.sha256(config_bytes).hexdigest()}"
        for name, data in (
            (config_name, config_bytes),
            (
                "manifest.json",
                json.dumps(
                    [{"Config": config_name, "RepoTags": ["bench:latest"], "Layers": blob_names}]
                ).encode(),
            ),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out


def build(directory: Path, size_mb: int) -> Path:
    """Build in a child process: the benchmark stays small, so the rusage of the children
    it times is theirs (Linux counts a parent's pages in a forked child's peak RSS)."""
    out = subprocess.run(
        [sys.executable, __file__, str(directory), str(size_mb)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return Path(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(make_synthetic(Path(sys.argv[1]), int(sys.argv[2])))
