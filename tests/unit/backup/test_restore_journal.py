"""Whether a recorded restore's process still runs: pid gone, or reused by another process (start time)."""

from __future__ import annotations

import os
import subprocess
import sys

from tiation.state.processes import pid_start as _pid_start
from tiation.state.processes import running as _running


def test_this_process_runs_and_a_reaped_one_does_not() -> None:
    assert _running(os.getpid(), _pid_start(os.getpid()))
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    gone = int(child.stdout)
    assert not _running(gone, "12345")
    assert not _running(gone, None)


def test_a_reused_pid_is_not_the_recorded_process() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = _pid_start(child.pid)
        assert started is not None and _running(child.pid, started)
        assert not _running(child.pid, str(int(started) - 1))  # same pid, another start: reused
    finally:
        child.kill()
        child.wait()
