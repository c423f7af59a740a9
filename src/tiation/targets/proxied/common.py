"""Helpers shared by the local target, its supervisor and its proxy: files, process identity, detaching.

These run in three kinds of process (the CLI, a supervisor, a proxy), so they import nothing heavy.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from tiation.procs import PROC as _PROC
from tiation.procs import proc_start_ticks as proc_start_ticks


def atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` as JSON to `path` so that readers see either the old or the new content, never a mix."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(3).hex()}.tmp")
    try:
        # No fsync: readers are other processes on the same host; surviving a power cut is not the goal.
        tmp.write_text(json.dumps(data, sort_keys=True, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None if it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def parse_time(value: object) -> datetime | None:
    """An ISO timestamp written by `datetime.isoformat()`, or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def process_alive(pid: int | None, start_ticks: int | None = None) -> bool:
    """Whether `pid` runs (not a zombie) and, if `start_ticks` is given, is still the same process."""
    if not pid or pid <= 0:
        return False
    if not _PROC.is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    ticks = proc_start_ticks(pid)
    return ticks is not None and (start_ticks is None or ticks == start_ticks)


def process_matches(pid: int | None, *args: str) -> bool:
    """Whether `pid` runs and has each of `args` as one of its arguments (guards against pid reuse)."""
    if not process_alive(pid):
        return False
    if not _PROC.is_dir():
        return True
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return False
    argv = raw.decode(errors="surrogateescape").split("\0")
    return all(a in argv for a in args)


def record_alive(record: Mapping[str, Any] | None, *args: str) -> bool:
    """Whether the process of a pid record (`{"pid", "start_ticks"}`) still runs.

    By start time when the record has it: exact against pid reuse, and true until the process has really
    exited (its sockets closed), unlike its command line, which empties earlier. Else by command line.
    """
    pid = record.get("pid") if record else None
    if record is None or not isinstance(pid, int):
        return False
    ticks = record.get("start_ticks")
    if isinstance(ticks, int):
        return process_alive(pid, ticks)
    return process_matches(pid, *args)


def signal_group(pgid: int | None, sig: int) -> None:
    """Send `sig` to a process group, ignoring one that is already gone."""
    if not pgid or pgid <= 0:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def signal_pid(pid: int | None, sig: int) -> None:
    """Send `sig` to one process, ignoring one that is already gone."""
    if not pid or pid <= 0:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def detach(pid_file: Path) -> None:
    """Fork: the parent records the child's pid in `pid_file` and exits; the child carries on.

    The launcher waits for the parent, so it never holds a long-lived child (no zombie, no ResourceWarning),
    and the child, reparented to init, outlives the launcher. Call before starting any thread.
    """
    child = os.fork()
    if child:
        try:
            atomic_write_json(pid_file, {"pid": child, "start_ticks": proc_start_ticks(child)})
        finally:
            os._exit(0)


def bind_check(host: str, port: int) -> str | None:
    """None if `host:port` can be listened on now; else "in use" or the OS reason."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return "in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
    return None


def free_port(host: str) -> int:
    """A TCP port on `host` that is free right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tail_lines(path: Path, lines: int, *, block: int = 8192) -> list[str]:
    """The last `lines` lines of `path`, reading backwards in blocks (never the whole of a big file)."""
    if lines <= 0:
        return []
    try:
        fh = path.open("rb")
    except OSError:
        return []
    with fh:
        end = fh.seek(0, os.SEEK_END)
        pos, data = end, b""
        while pos > 0 and data.count(b"\n") <= lines:
            step = min(block, pos)
            pos -= step
            fh.seek(pos)
            data = fh.read(step) + data
    text = data.decode("utf-8", errors="replace")
    return text.splitlines()[-lines:]
