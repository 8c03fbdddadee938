"""Benchmark the leak audit against `dive --ci` and a plain read of the same archive.

Usage::

    python benchmarks/audit_benchmark.py ARCHIVE [--rounds N]
    python benchmarks/audit_benchmark.py --make-synthetic 600 [--rounds N] [--check-linear]
    python benchmarks/audit_benchmark.py            # same as --make-synthetic 600

Runs interleaved rounds of three child processes on ARCHIVE (a docker-archive):

* the audit: ``python -m image_tasks.audit ARCHIVE --canary-env ... --format json``, with a
  netrc in the environment as CI passes it (``NET_RC``), so canaries are searched too;
* ``dive --ci --source docker-archive ARCHIVE`` (only timed; its own verdict is ignored);
* a plain read of the archive in 1 MiB chunks, in Python.

It prints the median wall time of each, the ratios, the audit's peak RSS (from the child's
rusage), and exits 1 when a target is missed: the audit no slower than dive, within 8x of
the plain read, under 100 MB of peak RSS (and, with --check-linear, a half-size synthetic
archive audited at a throughput within 35% of the full one's).  With --make-synthetic SIZE_MB
it first builds a Ray-sized docker-archive in a temporary directory: 6 layers, tens of
thousands of files (Python sources taken from this interpreter's standard library, compiled
byte code, small configs) and a few big .so-like blobs, plus whiteouts; it is removed after.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent / "{{cookiecutter.project_slug}}"
NETRC = "machine nexus.example.com login ci-bot password Zq8vR3mT9pL2wX5nK7cQ4"
TARGET_DIVE_RATIO = 1.0
TARGET_READ_RATIO = 8.0
TARGET_RSS_MB = 100.0
PLAIN_READ = (
    "import sys\n"
    "f = open(sys.argv[1], 'rb', buffering=0)\n"
    "b = bytearray(1 << 20)\n"
    "while f.readinto(b):\n"
    "    pass\n"
)


# -- synthetic archive -----------------------------------------------------------------------
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


def _build(directory: Path, size_mb: int) -> Path:
    """Build in a child process: this process stays small, so the rusage of the children
    it times is theirs (Linux counts a parent's pages in a forked child's peak RSS)."""
    out = subprocess.run(
        [sys.executable, __file__, "--build-into", str(directory), str(size_mb)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return Path(out.stdout.strip().splitlines()[-1])


# -- timing ---------------------------------------------------------------------------------
def _timed(cmd: list[str], env: dict) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit status) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode


def _dive() -> str | None:
    found = shutil.which("dive")
    if found:
        return found
    candidate = Path(sys.executable).with_name("dive")
    return str(candidate) if candidate.exists() else None


def bench(archive: Path, rounds: int) -> dict:
    # The audit runs from a copy of the package, as in a baked repository: there its byte code
    # is compiled once and cached, which must not happen inside the template folder.
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as project:
        shutil.copytree(PROJECT / "image_tasks", Path(project) / "image_tasks")
        env = dict(os.environ, NET_RC=NETRC, PYTHONPATH=project, CI="true")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return _bench(archive, rounds, env)


def _bench(archive: Path, rounds: int, env: dict[str, str]) -> dict:
    audit = [
        sys.executable,
        "-m",
        "image_tasks.audit",
        str(archive),
        "--canary-env",
        "NET_RC",
        "--format",
        "json",
        "--output",
        os.devnull,
    ]
    read = [sys.executable, "-c", PLAIN_READ, str(archive)]
    dive = _dive()
    commands = {"audit": audit, "read": read}
    if dive:
        commands["dive"] = [dive, "--ci", "--source", "docker-archive", str(archive)]
    times: dict[str, list[float]] = {k: [] for k in commands}
    rss = []
    codes = set()
    for cmd in commands.values():  # warm the page cache (and compile the audit) once
        _timed(cmd, env)
    for _ in range(rounds):
        for name, cmd in commands.items():
            wall, peak, code = _timed(cmd, env)
            times[name].append(wall)
            if name == "audit":
                rss.append(peak)
                codes.add(code)
    return {
        "size_mb": archive.stat().st_size / 1e6,
        "median": {k: statistics.median(v) for k, v in times.items()},
        "rss_mb": max(rss),
        "audit_exit": sorted(codes),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", nargs="?", help="docker-archive to benchmark")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--make-synthetic", type=int, metavar="SIZE_MB")
    parser.add_argument("--check-linear", action="store_true")
    parser.add_argument("--build-into", nargs=2, metavar=("DIR", "SIZE_MB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build_into:
        print(make_synthetic(Path(args.build_into[0]), int(args.build_into[1])))
        return 0
    if args.archive is None and args.make_synthetic is None:
        args.make_synthetic = 600
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        if args.archive:
            archive = Path(args.archive)
        else:
            start = time.perf_counter()
            archive = _build(Path(tmp), args.make_synthetic)
            print(
                f"built {archive.name} ({archive.stat().st_size / 1e6:.0f} MB) in "
                f"{time.perf_counter() - start:.1f} s"
            )
        result = bench(archive, args.rounds)
        failures = []
        med = result["median"]
        print(f"archive: {archive} ({result['size_mb']:.0f} MB), {args.rounds} rounds, medians:")
        for name, seconds in med.items():
            print(f"  {name:6s} {seconds:6.3f} s  ({result['size_mb'] / seconds:7.0f} MB/s)")
        read_ratio = med["audit"] / med["read"]
        print(f"  audit / plain read: {read_ratio:.2f}x (target <= {TARGET_READ_RATIO})")
        if read_ratio > TARGET_READ_RATIO:
            failures.append("slower than 8x a plain read")
        if "dive" in med:
            dive_ratio = med["audit"] / med["dive"]
            print(f"  audit / dive --ci:  {dive_ratio:.2f}x (target <= {TARGET_DIVE_RATIO})")
            if dive_ratio > TARGET_DIVE_RATIO:
                failures.append("slower than dive --ci")
        else:
            print("  dive not found: the comparison with dive was skipped")
        print(f"  audit peak RSS: {result['rss_mb']:.1f} MB (target < {TARGET_RSS_MB})")
        print(f"  audit exit status: {result['audit_exit']} (0 expected on a clean archive)")
        if result["rss_mb"] >= TARGET_RSS_MB:
            failures.append("peak RSS too high")
        if any(code not in (0, 1) for code in result["audit_exit"]):
            failures.append("the audit could not audit the archive")
        if args.check_linear and args.make_synthetic:
            half_dir = Path(tmp) / "half"
            half_dir.mkdir()
            half = _build(half_dir, args.make_synthetic // 2)
            small = bench(half, args.rounds)
            full_rate = result["size_mb"] / med["audit"]
            half_rate = small["size_mb"] / small["median"]["audit"]
            print(f"  linearity: {half_rate:.0f} MB/s at half size, {full_rate:.0f} MB/s at full")
            if full_rate < 0.65 * half_rate:
                failures.append("time grows faster than the size")
        if failures:
            print("MISSED: " + "; ".join(failures))
            return 1
        print("OK: all targets met")
        return 0


if __name__ == "__main__":
    sys.exit(main())
