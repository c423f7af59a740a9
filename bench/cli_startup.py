"""Cold wall time of `tiation --version` (goal median <= 100 ms) and `tiation status` (goal median <= 250 ms,
p95 <= 350 ms).

Each run is a new process (the OS file cache is warm, as it is for a person typing commands). `status` runs
against the example ecosystem with four services deployed on the local target and a populated state store.
The example's `cluster` environment is left out of the copy: it needs a Kubernetes API server, and asking one
is a network round trip, not start-up time.

    .venv/bin/python bench/cli_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _eco import copy_example, summary

TIATION = str(Path(sys.executable).parent / "tiation")


CPU: dict[str, list[float]] = {}
"""CPU seconds (user + system) of each timed run, by command: steadier than wall time on a loaded machine."""


def timed(args: list[str], env: dict[str, str], runs: int) -> list[float]:
    out, cpu = [], CPU.setdefault(" ".join(args), [])
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run([TIATION, *args], env=env, check=True, capture_output=True)
        out.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return out


def without_cluster(file: Path) -> None:
    """Drop the `cluster` (Kubernetes) environment from the platform file at `file`."""
    kept, skipping = [], False
    for line in file.read_text().splitlines(keepends=True):
        if line.startswith("  cluster:"):
            skipping = True
        elif skipping and not line.startswith("    "):
            skipping = False
        if not skipping:
            kept.append(line)
    file.write_text("".join(kept))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tiation-bench-") as tmp:
        root = copy_example(Path(tmp))
        without_cluster(root / "tiation.yaml")
        env = {
            **os.environ,
            "TIATION_FILE": str(root / "tiation.yaml"),
            "TIATION_DEMO_DATABASE_URL": "postgresql://app:pw@db/tiation",
        }
        subprocess.run([TIATION, "deploy", "local", "all"], env=env, check=True, capture_output=True)
        try:
            for _ in range(2):  # compile .pyc files once, as an installed package would have them
                subprocess.run([TIATION, "status"], env=env, check=True, capture_output=True)
            version = timed(["--version"], env, args.runs)
            status = timed(["status"], env, args.runs)
            status_json = timed(["status", "local", "--json"], env, args.runs)
        finally:
            subprocess.run([TIATION, "stop", "local"], env=env, check=True, capture_output=True)
    print(f"tiation --version:            {summary(version)}   (goal p50 <= 0.100s)")
    print(f"tiation status:               {summary(status)}   (goal p50 <= 0.250s, p95 <= 0.350s)")
    print(f"tiation status local --json:  {summary(status_json)}")
    for command, cpu in CPU.items():
        print(f"  cpu time of {command + ':':<21} {summary(cpu)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
