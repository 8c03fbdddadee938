"""Benchmark the leak audit side by side with its peers, on the realistic Ray image.

Usage::

    python benchmarks/audit_benchmark.py                      # the provisioned Ray image
    python benchmarks/audit_benchmark.py --archive A --oci DIR [--rounds N] [--ablations]
    python benchmarks/audit_benchmark.py --make-synthetic 4000 --check-linear

By default it reads the image .ci/provision makes (``RAYRT_BENCH_ARCHIVE``, a docker-archive of
the Ray-like image, and ``RAYRT_BENCH_OCI``, the same image as an OCI layout with gzip layers;
from the environment or /var/tmp/rayrt/env) and times, in interleaved rounds, child processes:

* ``audit``: ``python -m image_tasks.audit ARCHIVE`` with every rule and a canary (a netrc in
  ``NET_RC``, as CI passes it), from a copy of the package with byte code cached;
* ``dive``: ``dive --ci --source docker-archive ARCHIVE`` (only timed);
* ``read``: a plain read of the archive in 1 MiB chunks;
* ``audit-oci``: the audit of the gzip layout; ``gzip``: ``gzip -dc`` of the layout's blobs.

With ``--ablations`` it also times the audit without each piece of speed machinery: without
the ``isal`` inflater (``no-isal``), without ``hyperscan`` (``no-hyperscan``: the stdlib
search), with a layer's buffers searched twice (``two-passes``), with every zip entry read as
a stream (``no-zip-batch``), every small gzip file too (``no-whole-gzip``), without worker
processes (``one-process``), and in one process without its hash
thread (``one-process+no-hash-thread``); the workers hash inline (a hash thread there measured
no gain: the other workers use the cores).

It prints the medians (wall time, and the CPU time of the process and its children), the
ratios against the targets and the audit's peak memory (the largest process's RSS, from
rusage, and the process tree's proportional set size, sampled in an untimed round of its own:
sampling takes CPU from what it measures), and MISSED for each target missed: docker-archive
no slower than dive (goal 0.75x) and within 6x of the plain read; the gzip layout at most
0.6x ``gzip -dc``; peak RSS under 100 MB (with
--check-linear on a synthetic archive: throughput at full size within 35% of half size).
Timings never fail the run (exit 0), unless the audit could not audit (exit 2).
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
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent / "{{cookiecutter.project_slug}}"
STATE_ENV = Path(os.environ.get("RAYRT_STATE", "/var/tmp/rayrt")) / "env"
NETRC = "machine nexus.example.com login ci-bot password Zq8vR3mT9pL2wX5nK7cQ4"
TARGET_DIVE_RATIO = 1.0
GOAL_DIVE_RATIO = 0.75
TARGET_READ_RATIO = 6.0
TARGET_GZIP_RATIO = 0.6
TARGET_RSS_MB = 100.0
PLAIN_READ = (
    "import sys\n"
    "f = open(sys.argv[1], 'rb', buffering=0)\n"
    "b = bytearray(1 << 20)\n"
    "while f.readinto(b):\n"
    "    pass\n"
)
# The audit's command line, after a change that takes one piece of speed machinery away.
NO_ISAL = "import sys; sys.modules['isal'] = None"
NO_HYPERSCAN = "import sys; sys.modules['hyperscan'] = None"
ONE_PROCESS = "import os; os.cpu_count = lambda: 1"
NO_HASH_THREAD = (
    "from image_tasks.audit.scan import blobs; init = blobs.BlobScanner.__init__; "
    "blobs.BlobScanner.__init__ = lambda s, a, b, threaded=True: init(s, a, b, "
    "threaded=False)"
)
# a layer's buffers searched twice (the needles for the canary plane, then the pattern terms),
# not once for every term
TWO_PASSES = (
    "from image_tasks.audit.scan import layer; layer.BufferSearch.feed = lambda s, b, l, e: "
    "(setattr(s, 'hits', s.m.hits(b, 0, e)), s.plane.feed(b, l, e))"
)
# every zip entry read as a stream, none decoded whole and searched in a batch
NO_ZIP_BATCH = "from image_tasks.audit.image import zipstream; zipstream.SMALL = -1"
# every small gzip file read as a stream, not decoded in one call
NO_WHOLE_GZIP = "from image_tasks.audit.scan import nested; nested._gunzipped = lambda d: None"
ABLATIONS = {
    "no-isal": NO_ISAL,
    "no-hyperscan": NO_HYPERSCAN,
    "two-passes": TWO_PASSES,
    "no-zip-batch": NO_ZIP_BATCH,
    "no-whole-gzip": NO_WHOLE_GZIP,
    "one-process": ONE_PROCESS,
    "one-process+no-hash-thread": f"{ONE_PROCESS}; {NO_HASH_THREAD}",
}
OCI_ABLATIONS = ("no-isal", "no-hyperscan", "one-process")
AUDIT = "{setup}; import runpy, sys; sys.argv[0] = 'audit'; "
AUDIT += "runpy.run_module('image_tasks.audit', run_name='__main__', alter_sys=True)"


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
def _tree_pss(pid: int) -> int:
    """The proportional set size of a process and its descendants, in kB (from /proc): pages
    that forked workers share with their parent are counted once, not once a process."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return total


def _timed(
    cmd: list[str], env: dict, sample: bool = False
) -> tuple[float, float, float, float, int]:
    """(wall seconds, CPU seconds, largest process's peak RSS in MB, process tree's peak PSS
    in MB, exit status) of one child process; the PSS only when ``sample``: sampling it reads
    every process's page tables, CPU taken from what is timed, so timed rounds go without."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = [0]
    done = threading.Event()

    def sampling() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _tree_pss(proc.pid))

    sampler = threading.Thread(target=sampling, daemon=True)
    if sample:
        sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    if sample:
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime  # (its reaped children, the workers, included)
    return wall, cpu, usage.ru_maxrss / 1024, peak[0] / 1024, proc.returncode


def _dive() -> str | None:
    found = shutil.which("dive")
    if found:
        return found
    candidate = Path(sys.executable).with_name("dive")
    return str(candidate) if candidate.exists() else None


def _provisioned() -> dict[str, str]:
    values = {}
    if STATE_ENV.is_file():
        values = dict(line.split("=", 1) for line in STATE_ENV.read_text().split())
    return {
        k: os.environ.get(k, values.get(k, "")) for k in ("RAYRT_BENCH_ARCHIVE", "RAYRT_BENCH_OCI")
    }


def _head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(2)


def _gzip_command(oci: Path) -> list[str]:
    blobs = sorted(p for p in (oci / "blobs" / "sha256").iterdir())
    gzipped = [str(p) for p in blobs if _head(p) == b"\x1f\x8b"]
    return ["sh", "-c", 'for f; do gzip -dc "$f"; done > /dev/null', "gzip", *gzipped]


def commands(archive: Path, oci: Path | None, ablations: bool) -> dict[str, list[str]]:
    audit = ["--canary-env", "NET_RC", "--format", "json", "--output", os.devnull]
    python = [sys.executable, "-c"]
    out = {"audit": [*python, AUDIT.format(setup="pass"), str(archive), *audit]}
    if ablations:
        for name, setup in ABLATIONS.items():
            out[f"audit {name}"] = [*python, AUDIT.format(setup=setup), str(archive), *audit]
    dive = _dive()
    if dive:
        out["dive"] = [dive, "--ci", "--source", "docker-archive", str(archive)]
    out["read"] = [*python, PLAIN_READ, str(archive)]
    if oci is not None:
        out["audit-oci"] = [*python, AUDIT.format(setup="pass"), str(oci), *audit]
        for name in OCI_ABLATIONS if ablations else ():
            setup = AUDIT.format(setup=ABLATIONS[name])
            out[f"audit-oci {name}"] = [*python, setup, str(oci), *audit]
        out["gzip"] = _gzip_command(oci)
    return out


def bench(archive: Path, oci: Path | None, rounds: int, ablations: bool = False) -> dict:
    # The audit runs from a copy of the package, as in a baked repository: there its byte code
    # is compiled once and cached, which must not happen inside the template folder.
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as project:
        shutil.copytree(PROJECT / "image_tasks", Path(project) / "image_tasks")
        env = dict(os.environ, NET_RC=NETRC, PYTHONPATH=project, CI="true")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cmds = commands(archive, oci, ablations)
        times: dict[str, list[float]] = {k: [] for k in cmds}
        cpu: dict[str, list[float]] = {k: [] for k in cmds}
        rss: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
        codes: dict[str, set[int]] = {k: set() for k in cmds}
        for cmd in cmds.values():  # warm the page cache (and compile the audit) once
            _timed(cmd, env)
        for _ in range(rounds):
            for name, cmd in cmds.items():
                wall, seconds, largest, _, code = _timed(cmd, env)
                times[name].append(wall)
                cpu[name].append(seconds)
                rss[name].append((largest, 0.0))
                codes[name].add(code)
        for name, cmd in cmds.items():  # the process tree's memory: a round of its own
            if name.startswith("audit"):
                _, _, largest, tree, code = _timed(cmd, env, sample=True)
                rss[name].append((largest, tree))
                codes[name].add(code)
    return {
        "size_mb": archive.stat().st_size / 1e6,
        "median": {k: statistics.median(v) for k, v in times.items()},
        "cpu": {k: statistics.median(v) for k, v in cpu.items()},
        "rss": {k: (max(a for a, _ in v), max(b for _, b in v)) for k, v in rss.items()},
        "exit": {k: sorted(v) for k, v in codes.items()},
    }


def report(result: dict, archive: Path, oci: Path | None, rounds: int) -> list[str]:
    """Print the medians and ratios; return the targets missed."""
    med = result["median"]
    missed = []
    print(f"archive: {archive} ({result['size_mb']:.0f} MB)")
    if oci is not None:
        print(f"layout:  {oci} (OCI, gzip layers)")
    print(f"{rounds} interleaved rounds, medians (wall, and CPU of the process tree):")
    for name, seconds in med.items():
        line = f"  {name:32s} {seconds:6.3f} s  cpu {result['cpu'][name]:6.3f} s"
        if name.startswith("audit"):
            largest, tree = result["rss"][name]
            line += f"   peak RSS {largest:5.1f} MB (process tree's PSS {tree:5.1f} MB)"
        print(line)

    def ratio(a: str, b: str, target: float, what: str, goal: float | None = None) -> None:
        if a not in med or b not in med:
            print(f"  {a} / {b}: not measured ({b} missing)")
            return
        value = med[a] / med[b]
        text = f"  {a} / {b}: {value:.2f}x (target <= {target}"
        text += f", goal {goal})" if goal else ")"
        print(text)
        if value > target:
            missed.append(what)

    ratio("audit", "dive", TARGET_DIVE_RATIO, "docker-archive slower than dive", GOAL_DIVE_RATIO)
    ratio("audit", "read", TARGET_READ_RATIO, "docker-archive over 6x the plain read")
    ratio("audit-oci", "gzip", TARGET_GZIP_RATIO, "gzip layout over 0.6x gzip -dc")
    for name in med:
        if " " in name:
            base = name.split(" ")[0]
            print(f"  {name} / {base}: {med[name] / med[base]:.2f}x")
            if "+" in name:  # against the one-process run it changes
                other = name.split("+")[0]
                print(f"  {name} / {other}: {med[name] / med[other]:.2f}x")
    largest = max(v[0] for k, v in result["rss"].items() if k.startswith("audit"))
    tree = max(v[1] for k, v in result["rss"].items() if k.startswith("audit"))
    print(f"  audit peak RSS (largest process): {largest:.1f} MB (target < {TARGET_RSS_MB})")
    print(f"  audit peak PSS (all its processes): {tree:.1f} MB (target < {TARGET_RSS_MB})")
    if max(largest, tree) >= TARGET_RSS_MB:
        missed.append("peak memory over 100 MB")
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", help="docker-archive (default: RAYRT_BENCH_ARCHIVE)")
    parser.add_argument("--oci", help="OCI layout with gzip layers (default: RAYRT_BENCH_OCI)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ablations", action="store_true")
    parser.add_argument("--make-synthetic", type=int, metavar="SIZE_MB")
    parser.add_argument("--check-linear", action="store_true")
    parser.add_argument("--build-into", nargs=2, metavar=("DIR", "SIZE_MB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build_into:
        print(make_synthetic(Path(args.build_into[0]), int(args.build_into[1])))
        return 0
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        if args.make_synthetic:
            start = time.perf_counter()
            archive, oci = _build(Path(tmp), args.make_synthetic), None
            print(
                f"built {archive.name} ({archive.stat().st_size / 1e6:.0f} MB) in "
                f"{time.perf_counter() - start:.1f} s"
            )
        else:
            found = _provisioned()
            archive = Path(args.archive or found["RAYRT_BENCH_ARCHIVE"])
            oci = Path(args.oci or found["RAYRT_BENCH_OCI"])
            if not archive.is_file() or not oci.is_dir():
                print(
                    f"benchmark: the realistic image is missing ({archive}, {oci}); "
                    "run .ci/provision, or give --archive and --oci.",
                    file=sys.stderr,
                )
                return 2
        result = bench(archive, oci, args.rounds, args.ablations)
        missed = report(result, archive, oci, args.rounds)
        if args.check_linear and args.make_synthetic:
            half_dir = Path(tmp) / "half"
            half_dir.mkdir()
            half = _build(half_dir, args.make_synthetic // 2)
            small = bench(half, None, args.rounds)
            full_rate = result["size_mb"] / result["median"]["audit"]
            half_rate = small["size_mb"] / small["median"]["audit"]
            print(f"  linearity: {half_rate:.0f} MB/s at half size, {full_rate:.0f} MB/s at full")
            if full_rate < 0.65 * half_rate:
                missed.append("time grows faster than the size")
        failed = sorted(
            {c for k, v in result["exit"].items() if k.startswith("audit") for c in v} - {0, 1}
        )
        print(f"  audit exit statuses: {result['exit'].get('audit')} (0: clean, as expected)")
        if failed:
            print("benchmark: the audit could not audit the image (exit 2)", file=sys.stderr)
            return 2
        print("MISSED: " + "; ".join(missed) if missed else "OK: every target met")
        return 0


if __name__ == "__main__":
    sys.exit(main())
