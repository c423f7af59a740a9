"""Shared by the benchmarks: a copy of the example ecosystem on free ports, in a temp dir."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ecosystem"
sys.path.insert(0, str(EXAMPLE))
from relocate import copy_example  # noqa: E402

__all__ = ["copy_example", "pct", "summary"]


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(values: list[float]) -> str:
    if not values:
        return "n=0"
    return (
        f"n={len(values)} p50={statistics.median(values):.3f}s p95={pct(values, 95):.3f}s "
        f"min={min(values):.3f}s max={max(values):.3f}s"
    )
