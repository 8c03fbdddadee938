"""Recall of the leak audit against gitleaks and detect-secrets, on real images built here.

Usage::

    python benchmarks/recall.py                # build (cached), scan, print the tables
    python benchmarks/recall.py --check        # exit 1 when a target is missed (CI)
    python benchmarks/recall.py --full         # detect-secrets on the stock bases too (slow)
    python benchmarks/recall.py --only NAME... # some cases only

The images are those of `recall_corpus`: one leak per image, and clean images (the stock
minimal, Python and Ray-like bases, a secret used the right way, decoys). Each is built by
docker with BuildKit, saved with ``docker save`` (`recall_images`) and read by the four tools
of `recall_tools`: the audit with the password and without it, on the whole archive as users
run it; gitleaks and detect-secrets on files, as they are made to read.

Fairness: the peers get what the case added, laid out as files: each layer above the base
extracted in its own folder (a file a later layer deletes is still there, as it is in the
image) and the image config as ``config.json`` (ENV, LABEL, history). Running gitleaks on the
whole archive instead adds the base to every image and needs one more archive level; the
result on the case's own files is the same. On the stock bases the peers read the whole
extracted filesystem: gitleaks in the full table, detect-secrets only with ``--full`` (it takes
minutes); ``--check`` leaves both out there (what it checks of a clean image is ours).

A tool finds a leak when one of its findings names the case's ``where`` in its path; on a clean
image every finding is a false positive. Targets (``--check``): ours with the password finds
every leak either peer finds, and ours (either way) flags no clean image.

Cost: images are built in parallel with the audits of those already built; results are cached
by image ID and tool (ours: the hash of the audit's source) under ``$RAYRT_STATE/recall``; an
image is saved only when a tool has no cached result for it, and removed when read. It prints
its wall time, its own CPU time and how busy the machine's cores were meanwhile.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import recall_images as images  # noqa: E402
from recall_corpus import CASES, MINIMAL, Case  # noqa: E402
from recall_tools import PEERS, TOOLS, fingerprints, ours, peer  # noqa: E402
from timing import cpu_seconds  # noqa: E402

STATE = Path(os.environ.get("RAYRT_STATE", "/var/tmp/rayrt"))
CACHE = STATE / "recall"
# A case waits on the engine (build, save) as much as on a core (the audit): four at a time
# keep this machine's two cores busy.
WORKERS = 4


class Run:
    """One run: the cache of results (by image ID, then tool and fingerprint) and the folders
    staged for the peers (by root: the cases in it and the peers wanted there)."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.fingerprints = fingerprints()
        self.file = CACHE / "results.json"
        self.cache = json.loads(self.file.read_text()) if self.file.is_file() else {}
        self.images: dict[str, str] = {}  # case name: image ID
        self.staged: dict[Path, dict[str, set[str]]] = {}  # root: case name: peers
        self.lock = threading.Lock()

    def key(self, tool: str) -> str:
        return f"{tool} {self.fingerprints[tool]}"

    def wanted(self, case: Case) -> list[str]:
        """The tools to run on the case's image (its cached results aside)."""
        tools = list(TOOLS)
        if case.stock and not self.args.full:
            tools.remove("detect-secrets")
            if self.args.check:
                tools.remove("gitleaks")
        entry = self.cache.get(self.images[case.name], {})
        return [t for t in tools if self.key(t) not in entry]

    def read(self, case: Case) -> None:
        """Build the case's image, run ours on it, and stage its files for the peers."""
        workdir = self.work / "images" / case.name
        workdir.mkdir(parents=True)
        try:
            self._read(case, workdir)
        finally:
            shutil.rmtree(workdir)
            images.remove(case)

    def _read(self, case: Case, workdir: Path) -> None:
        self.images[case.name] = image = images.build(case, workdir)
        wanted = self.wanted(case)
        if wanted:
            archive = images.archive(case, image, workdir)
            results = {t: ours(archive, case, t == "ours+pw") for t in wanted if t not in PEERS}
            peers = {t for t in wanted if t in PEERS}
            if peers:
                # a stock base's tree alone (the peers it gets differ), the cases' together
                root = self.work / ("stock-" + case.name if case.stock else "cases")
                skip = 0 if case.stock else images.base_layers(case.base)
                images.extract(archive, root / case.name, skip)
                with self.lock:
                    self.staged.setdefault(root, {})[case.name] = peers
            with self.lock:
                entry = self.cache.setdefault(image, {})
                entry.update({self.key(t): found for t, found in results.items()})

    def run_peers(self, pool: concurrent.futures.Executor) -> None:
        """Each peer once over each root's folders, its findings to each case's entry."""
        jobs = {
            (root, tool): pool.submit(peer, tool, root)
            for root, cases in self.staged.items()
            for tool in sorted(set().union(*cases.values()))
        }
        for (root, tool), job in jobs.items():
            found = job.result()
            for name, peers in self.staged[root].items():
                if tool in peers:
                    entry = self.cache.setdefault(self.images[name], {})
                    entry[self.key(tool)] = found.get(name, [])

    def results(self, cases: list[Case]) -> dict[str, dict[str, list[str] | None]]:
        return {
            c.name: {t: self.cache.get(self.images[c.name], {}).get(self.key(t)) for t in TOOLS}
            for c in cases
        }

    def save(self) -> None:
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.cache, indent=1))
        tmp.replace(self.file)


def measure(args: argparse.Namespace, cases: list[Case]) -> tuple[dict, dict[str, str]]:
    """Every tool's findings on every case's image, and the tools' fingerprints."""
    images.require(cases)
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="recall-", dir=CACHE) as tmp:
        run = Run(args, Path(tmp))
        # the stock bases' long audits first, the minimal base's short cases last
        order = sorted(cases, key=lambda c: (not c.stock, c.base == MINIMAL))
        pool = concurrent.futures.ThreadPoolExecutor(WORKERS)
        try:
            for job in [pool.submit(run.read, c) for c in order]:
                job.result()
            run.run_peers(pool)
        finally:  # (on an error, the cases not started are not read)
            pool.shutdown(cancel_futures=True)
        run.save()
        return run.results(cases), run.fingerprints


def found(case: Case, findings: list[str] | None) -> bool | None:
    if findings is None:
        return None
    if case.where == "<config>":
        return any(" <config>" in f or f.endswith(" config.json") for f in findings)
    return any(case.where in f for f in findings)


# -- the report --------------------------------------------------------------------------------
def report(results: dict[str, dict], cases: list[Case]) -> list[str]:
    """Print the tables; return the targets missed."""
    missed = []
    leaks = [c for c in cases if not c.clean]
    categories = list(dict.fromkeys(c.category for c in leaks))
    width = max([len(c) for c in categories] + [14])
    print(
        f"\nRecall per category (found/total; ours without the password: of the leaks a rule "
        f"could see)\n{'category':<{width}}  " + "  ".join(f"{t:>14}" for t in TOOLS)
    )
    for category in [*categories, "all"]:
        group = [c for c in leaks if category in ("all", c.category)]
        cells = []
        for tool in TOOLS:
            pool = [c for c in group if c.patterns or tool != "ours"]
            hits = sum(bool(found(c, results[c.name][tool])) for c in pool)
            cells.append(f"{hits}/{len(pool)}")
        print(f"{category:<{width}}  " + "  ".join(f"{cell:>14}" for cell in cells))
    print("\nPer leak (x: found, .: missed, -: not run)")
    for c in leaks:
        marks = []
        for tool in TOOLS:
            hit = found(c, results[c.name][tool])
            marks.append("-" if hit is None else "x" if hit else ".")
        print(f"  {c.name:<28} {c.category:<14} " + " ".join(f"{m:^14}" for m in marks))
        peers = [found(c, results[c.name][t]) for t in PEERS]
        if any(peers) and not found(c, results[c.name]["ours+pw"]):
            missed.append(f"{c.name}: a peer finds it, ours does not")
    print("\nFalse positives on clean images (findings; '-': not run)")
    for c in [c for c in cases if c.clean]:
        counts = []
        for tool in TOOLS:
            got = results[c.name][tool]
            counts.append("-" if got is None else str(len(got)))
            if tool.startswith("ours") and got:
                missed.append(f"{c.name}: {tool} flags a clean image: {got[:3]}")
        print(f"  {c.name:<28} " + " ".join(f"{n:>14}" for n in counts))
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--full", action="store_true", help="detect-secrets on the stock bases too")
    parser.add_argument("--only", nargs="*", help="case names")
    parser.add_argument("--details", action="store_true", help="print every tool's findings")
    args = parser.parse_args(argv)
    # a stopped run cleans up as an interrupted one does: its images and staged files removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cases = [c for c in CASES if not args.only or c.name in args.only]
    start, (busy, total) = time.monotonic(), cpu_seconds()
    results, tools = measure(args, cases)
    wall = time.monotonic() - start
    busy_after, total_after = cpu_seconds()
    share = (busy_after - busy) / max(total_after - total, 1e-9)
    own = sum(
        u.ru_utime + u.ru_stime
        for u in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )
    if args.details:
        for name, by_tool in results.items():
            print(f"\n{name}")
            for tool, findings in by_tool.items():
                print(f"  {tool}: {findings}")
    missed = report(results, cases)
    print(
        f"\n{len(cases)} images in {wall:.0f} s; CPU: {own:.0f} s this run's processes, the "
        f"machine's {os.cpu_count()} cores {share:.0%} busy meanwhile (the engine's work and "
        "others' included)"
    )
    print("tools: " + ", ".join(f"{k} {v}" for k, v in tools.items() if k != "ours"))
    for line in missed:
        print(f"MISSED: {line}")
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
