"""The benchmark's modules, importable as `python benchmarks/audit_benchmark.py` finds them, and
the audit tests' archive builders."""

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS.parent / "benchmarks"), str(TESTS / "audit")]
