"""The bounds an audit keeps: how much it may read, expand, hold and spend in time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Bounds that keep hostile input from costing unbounded memory or time."""

    # JSON members larger than this are scanned as bytes, not parsed (an engine reads
    # manifests and configs of 4 MiB at most; parsed, one costs many times its size)
    json_bytes: int = 4 << 20
    # a compressed layer (or archive) is read to this many times its stored size, or to
    # layer_floor bytes, whichever is larger, and never past layer_cap: what lies beyond is a
    # gap (an incomplete verdict: a decompression bomb stops there)
    layer_ratio: int = 100
    layer_floor: int = 256 << 20
    layer_cap: int = 512 << 30
    max_members: int = 5_000_000  # per tar stream
    max_blobs: int = 100_000
    max_seconds: float = 3600.0
    # blobs at least this large (from a file) are scanned by worker processes, side by side;
    # 0: never (everything is read in this process, in order)
    parallel_bytes: int = 8 << 20
    workers: int = 0  # worker processes; 0: one per core
