"""Shared by the benchmarks: a copy of the example ecosystem on free ports, in a temp dir."""

from __future__ import annotations

import re
import shutil
import socket
import statistics
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ecosystem"


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports (each socket stays bound until all are chosen)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def copy_example(dest: Path) -> Path:
    """Copy the example to `dest/ecosystem` with every port replaced by a free one."""
    root = dest / "ecosystem"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".tiation", "__pycache__", "demo.py"))
    text = (root / "tiation.yaml").read_text()
    wanted = sorted(set(re.findall(r"\b18[0-2]8\d\b", text)))
    ports = dict(zip(wanted, map(str, free_ports(len(wanted))), strict=True))
    (root / "tiation.yaml").write_text(re.sub(r"\b18[0-2]8\d\b", lambda m: ports[m.group(0)], text))
    return root


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
