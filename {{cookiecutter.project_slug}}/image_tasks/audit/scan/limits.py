"""The bounds an audit keeps: how much it may read, expand, hold and spend in time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Bounds that keep hostile input from costing unbounded memory or time."""

    json_bytes: int = 16 << 20  # JSON members larger than this are scanned, not parsed
    layer_ratio: int = 200  # a compressed layer may expand this many times its size...
    layer_floor: int = 8 << 30  # ...or to this many bytes, whichever is larger...
    layer_cap: int = 512 << 30  # ...but never beyond this
    max_members: int = 5_000_000  # per tar stream
    max_blobs: int = 100_000
    max_seconds: float = 3600.0
    # decompressed bytes of nested archives scanned per image: outside package trees, inside
    nested_bytes: int = 64 << 20
    nested_package_bytes: int = 16 << 20
    # blobs at least this large (from a file) are scanned by worker processes, side by side;
    # 0: never (everything is read in this process, in order)
    parallel_bytes: int = 8 << 20
    workers: int = 0  # worker processes; 0: one per core
