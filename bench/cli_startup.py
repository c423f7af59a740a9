"""Cold wall time of `tiation --version` (goal < 300 ms) and `tiation status` (goal < 600 ms).

Each run is a new process (the OS file cache is warm, as it is for a person typing commands). `status` runs
against the example ecosystem with four services deployed on the local target and a populated state store.

    .venv/bin/python bench/cli_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _eco import copy_example, summary

TIATION = str(Path(sys.executable).parent / "tiation")


def timed(args: list[str], env: dict[str, str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([TIATION, *args], env=env, check=True, capture_output=True)
        out.append(time.perf_counter() - t)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tiation-bench-") as tmp:
        root = copy_example(Path(tmp))
        env = {
            **os.environ,
            "TIATION_FILE": str(root / "tiation.yaml"),
            "TIATION_DEMO_DATABASE_URL": "postgresql://app:pw@db/tiation",
        }
        subprocess.run([TIATION, "deploy", "local", "all"], env=env, check=True, capture_output=True)
        try:
            timed(["status"], env, 2)  # compile .pyc files once, as an installed package would have them
            version = timed(["--version"], env, args.runs)
            status = timed(["status"], env, args.runs)
            status_json = timed(["status", "local", "--json"], env, args.runs)
        finally:
            subprocess.run([TIATION, "stop", "local"], env=env, check=True, capture_output=True)
    print(f"tiation --version:            {summary(version)}   (goal < 0.300s)")
    print(f"tiation status:               {summary(status)}   (goal < 0.600s)")
    print(f"tiation status local --json:  {summary(status_json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
