"""When a process on this host started, from /proc: how a recorded pid is told apart from a reused one."""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


def proc_start_ticks(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot, Linux), or None if it is gone, a zombie, or unknowable."""
    try:
        data = (PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = data[data.rindex(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])
