"""Timing child processes: wall and CPU time, peak memory, exit status; and how busy the
machine was meanwhile (it is shared: the ratios are what can be compared, not the times)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import NamedTuple


class Run(NamedTuple):
    wall: float  # seconds
    cpu: float  # seconds of CPU, its reaped children (the audit's workers) included
    rss: float  # the largest process's peak RSS, MB (at least the parent's own high-water
    # mark: a vfork'd child's exec records its parent's, so the benchmark must stay small)
    pss: float  # the process tree's peak PSS, MB (0 unless sampled)
    status: int  # exit status (negative: killed by that signal)


def tree_pss(pid: int) -> int:
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


def timed(cmd: list[str], env: dict, sample: bool = False, log: Path | None = None) -> Run:
    """Run ``cmd`` (standard error to ``log``, if given) and measure it; the PSS only when
    ``sample``: sampling reads every process's page tables, CPU taken from what is timed, so
    timed rounds go without."""
    peak = [0]
    done = threading.Event()
    with open(log or os.devnull, "wb") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=stderr)

        def sampling() -> None:
            while not done.wait(0.02):
                peak[0] = max(peak[0], tree_pss(proc.pid))

        sampler = threading.Thread(target=sampling, daemon=True)
        if sample:
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    done.set()
    if sample:
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, usage.ru_maxrss / 1024, peak[0] / 1024, proc.returncode)


def cpu_seconds() -> tuple[float, float]:
    """(busy, all) CPU seconds every core spent since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / ticks, sum(fields[:8]) / ticks
