"""Bounded on any input: pax floods read in linear time, decompression bombs stopped (a gap, not
a hang), the deadline an incomplete verdict, the peak memory of the audit's processes under
100 MB; and SIGTERM, SIGINT or a killed parent stop every worker at once, with no traceback and
no file left behind."""

from __future__ import annotations

import gzip
import io
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from audit_builders import Image, docker_oci, oci_archive, write
from image_tasks import audit
from image_tasks.audit import Limits

PASSWORD = "Zq8vR3mT9pL2wX5nK7cQ4"
PROJECT = Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}"
MAX_RSS_MB = 100


def pax_flood(members: int, globals_per_member: int) -> bytes:
    """A layer of pax headers: global records piling up (distinct keys), a local one per
    member: quadratic for a reader that merges the globals into every member."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for i in range(members):
            if i % 10 == 0:
                info = tarfile.TarInfo(f"g{i}")
                info.type = tarfile.XGLTYPE
                info.pax_headers = {f"vendor.k{i}.{j}": "v" * 20 for j in range(globals_per_member)}
                tar.addfile(info)
            info = tarfile.TarInfo(f"d/f{i}")
            info.pax_headers = {"comment": "c" * 30, f"vendor.x{i}": "y"}
            tar.addfile(info)
    return out.getvalue()


def gzip_bomb(expanded: int) -> bytes:
    """``expanded`` bytes of zeros as concatenated gzip members (cheap to build, valid gzip)."""
    piece = gzip.compress(bytes(64 << 20), compresslevel=9)
    return piece * (expanded // (64 << 20))


def run_cli(*args, timeout=300) -> tuple[int, str, float, int]:
    """The audit's command line in a child; (status, stderr, seconds, peak RSS in MB of the
    largest of its processes, workers included)."""
    probe = (
        "import resource, subprocess, sys; "
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "sys.stderr.write(r.stderr); "
        "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", probe, sys.executable, "-m", "image_tasks.audit", *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip
    seconds = time.monotonic() - start
    status, rss = result.stdout.split()
    return int(status), result.stderr, seconds, int(rss) // 1024


def test_a_pax_flood_is_read_in_linear_time(tmp_path):
    small, large = pax_flood(2000, 40), pax_flood(8000, 40)  # (1.3 MB and 5.3 MB)
    times = []
    for data in (small, large):
        path = write(tmp_path, docker_oci(Image(layers=[data])))
        start = time.process_time()
        assert audit.run(path, [PASSWORD]).exit_code in (0, 1)
        times.append(time.process_time() - start)
    assert times[1] < 12 * max(times[0], 0.05), times  # 4x the input: about 4x the time


def test_pax_flood_and_gzip_bombs_stay_bounded_in_time_and_memory(tmp_path):
    flood = write(tmp_path, docker_oci(Image(layers=[pax_flood(20000, 60)])), "flood.tar")
    status, err, seconds, rss = run_cli(flood, "--format", "json", "--output", os.devnull)
    assert status in (0, 1) and "Traceback" not in err and rss < MAX_RSS_MB, (status, err, rss)
    bomb = gzip_bomb(8 << 30)  # 8 GiB of zeros in 8 MB, twelve times
    path = write(tmp_path, oci_archive(Image(layers=[bomb] * 12), "none"), "bombs.tar")
    status, err, seconds, rss = run_cli(path, "--format", "json", "--output", os.devnull)
    assert status == 3 and "Traceback" not in err and rss < MAX_RSS_MB, (status, err, rss)
    assert seconds < 240, seconds


def test_the_deadline_is_an_incomplete_verdict_not_a_hang(tmp_path):
    path = write(tmp_path, oci_archive(Image(layers=[gzip_bomb(16 << 30)]), "none"))
    start = time.monotonic()
    limits = Limits(max_seconds=1.5, layer_floor=64 << 30)  # (no ratio bound: only the time)
    report = audit.run(path, [PASSWORD], limits=limits)
    assert time.monotonic() - start < 30
    assert report.verdict == "incomplete" and any("time limit" in g.reason for g in report.gaps)


# -- signals ----------------------------------------------------------------------------------
def busy_archive(tmp_path) -> str:
    """An archive whose eight gzip layers (10 MB each, past the size that goes to a worker) keep
    two workers busy for seconds: 1 GB of zeros each, to their bound (a fast machine with isal
    reads two of them in a second).  Each layer is another blob: a duplicate is refused."""
    bomb = gzip_bomb(10 << 30)
    layers = [bomb + b"\0" * n for n in range(8)]
    return write(tmp_path, oci_archive(Image(layers=layers), "none"), "busy.tar")


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_audit(path: str, out: Path) -> tuple[subprocess.Popen, list[int]]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    argv = [sys.executable, "-m", "image_tasks.audit", path, "--canary-env", "PW"]
    argv += ["--output", str(out / "report.txt"), "--json", str(out / "report.json")]
    proc = subprocess.Popen(
        argv, env={**env, "PW": PASSWORD}, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while len(children(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = children(proc.pid)
    assert len(workers) >= 2, "the audit started no workers"
    time.sleep(0.5)  # (well inside their layers)
    assert proc.poll() is None, "the audit ended before the signal: busy_archive must be busier"
    return proc, workers


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_every_worker_at_once_without_a_traceback(tmp_path, sig, status):
    out = tmp_path / "out"
    out.mkdir()
    proc, workers = start_audit(busy_archive(tmp_path), out)
    stopped = time.monotonic()
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # (as a terminal's Ctrl-C: the whole foreground group)
    else:
        proc.send_signal(sig)
    err = proc.communicate(timeout=30)[1]
    assert proc.returncode == status, err
    assert time.monotonic() - stopped < 5
    assert "Traceback" not in err and ("terminated" in err or "interrupted" in err), err
    time.sleep(0.2)
    assert not [w for w in workers if alive(w)]
    assert list(out.iterdir()) == []  # no report, no temporary file


def test_a_killed_audit_takes_its_workers_with_it(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    proc, workers = start_audit(busy_archive(tmp_path), out)
    proc.kill()  # (no handler runs: the kernel ends the workers, asked by each at its start)
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 5
    while [w for w in workers if alive(w)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if alive(w)]
    assert list(out.iterdir()) == []
