"""`make demo` runs as a test, so CI keeps it working."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "examples" / "ecosystem" / "demo.py"


def test_demo_runs_and_shows_each_claim() -> None:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL"}}
    proc = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=600, env=env, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = proc.stdout.split("Demo summary:")[1]
    for claim in (
        "all four services deployed at 1.0.0",
        "cms 1.2.0 (exits at start) failed fast and 1.1.0 kept serving",
        "terminal-workflows 1.2.0 (crashes after start) rolled back to 1.0.0",
        "redeploying quarantined cms 1.2.0 refused without --force",
        "went to 1.0.0, skipping bad 1.2.0",
        "password is in no output, log, state row or file",
    ):
        assert claim in summary
    assert "✗ cms 1.2.0 failed after" in proc.stdout
