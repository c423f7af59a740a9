"""A recorded holder whose process is a zombie (exited, not yet reaped) is gone, not running."""

from __future__ import annotations

import subprocess
import sys
import time

from tiation.state.processes import pid_start, running


def test_a_zombie_is_not_running() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = pid_start(child.pid)
    try:
        deadline = time.monotonic() + 10
        while pid_start(child.pid) is not None and time.monotonic() < deadline:
            time.sleep(0.05)  # exited but unreaped: /proc shows it as a zombie
        assert pid_start(child.pid) is None
        assert not running(child.pid, started if started is not None else "0")
    finally:
        child.wait()


def test_a_live_process_is_running_with_its_start_time() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = pid_start(child.pid)
        assert started is not None and started.isdigit()
        assert running(child.pid, started)
        assert not running(child.pid, str(int(started) + 1))  # a reused pid has another start time
    finally:
        child.kill()
        child.wait()
