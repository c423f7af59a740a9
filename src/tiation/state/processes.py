"""Is a process on this host still the one that recorded itself? (pid, and its start time on Linux.)"""

from __future__ import annotations

import os

from tiation.procs import proc_start_ticks


def pid_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), as recorded; None if it is gone or a zombie."""
    ticks = proc_start_ticks(pid)
    return None if ticks is None else str(ticks)


def running(pid: int, started: object) -> bool:
    """True if process `pid` (started at `started`, when known) still runs on this host."""
    if pid == os.getpid():
        return True
    if started is not None:  # Linux: a reused pid has another start time
        return pid_start(pid) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return pid > 0
