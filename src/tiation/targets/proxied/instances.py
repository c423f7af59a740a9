"""Files and processes of local instances: where they live, what state they are in, how they stop.

The supervisor owns `status.json` while it runs; these functions only read it, except to record "stopped"
for an instance whose supervisor is already gone.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tiation.clock import Clock
from tiation.targets.base import Endpoint, EventKind, Instance, TargetEvent
from tiation.targets.proxied.common import (
    atomic_write_json,
    parse_time,
    process_alive,
    read_json,
    record_alive,
    signal_group,
    signal_pid,
)

SUPERVISOR_MODULE = "tiation.targets.local_supervisor"
PROXY_MODULE = "tiation.targets.local_proxy"
CRASH_LOOP_RESTARTS = 3
CRASH_LOOP_WINDOW = timedelta(seconds=60)
POLL = 0.05


@dataclass(frozen=True)
class InstanceFiles:
    """The files of one instance."""

    id: str
    dir: Path
    log: Path

    @property
    def spec(self) -> Path:
        return self.dir / "spec.json"

    @property
    def status_path(self) -> Path:
        return self.dir / "status.json"

    @property
    def pid_file(self) -> Path:
        return self.dir / "supervisor.pid"

    @property
    def config_dir(self) -> Path:
        return self.dir / "config"

    def read_spec(self) -> dict[str, Any]:
        return read_json(self.spec) or {}

    def read_status(self) -> dict[str, Any] | None:
        return read_json(self.status_path)

    def supervisor_pid(self) -> int | None:
        data = read_json(self.pid_file)
        pid = data.get("pid") if data else None
        return pid if isinstance(pid, int) else None

    def supervisor_alive(self) -> bool:
        """Whether the supervisor runs (checked by its command line, so a reused pid does not count)."""
        return record_alive(read_json(self.pid_file), SUPERVISOR_MODULE, str(self.spec))

    def child_alive(self, status: dict[str, Any] | None) -> bool:
        """Whether the child named in `status` still runs (checked by start time, against pid reuse)."""
        if not status or not isinstance(status.get("child_pid"), int):
            return False
        return process_alive(status["child_pid"], status.get("child_start_ticks"))


@dataclass(frozen=True)
class ServicePaths:
    """Where a target keeps one service of one environment (`area`: the target's directory under the root)."""

    root: Path
    environment: str
    service: str
    area: str = "local"

    @property
    def dir(self) -> Path:
        return self.root / self.area / self.environment / self.service

    @property
    def instances_dir(self) -> Path:
        return self.dir / "instances"

    @property
    def serving(self) -> Path:
        return self.dir / "serving.json"

    @property
    def proxy_state(self) -> Path:
        return self.dir / "proxy.json"

    @property
    def proxy_pid_file(self) -> Path:
        return self.dir / "proxy.pid"

    @property
    def logs_dir(self) -> Path:
        if self.area != "local":
            return self.root / "logs" / self.area / self.environment / self.service
        return self.root / "logs" / self.environment / self.service

    @property
    def proxy_log(self) -> Path:
        return self.logs_dir / "proxy.log"

    def instance(self, instance_id: str) -> InstanceFiles:
        return InstanceFiles(
            instance_id, self.instances_dir / instance_id, self.logs_dir / f"{instance_id}.log"
        )

    def all_instances(self) -> list[InstanceFiles]:
        """Every instance with a directory, oldest first."""
        try:
            names = sorted(p.name for p in self.instances_dir.iterdir() if p.is_dir())
        except OSError:
            return []
        files = [self.instance(n) for n in names]
        return sorted(files, key=lambda f: (str(f.read_spec().get("created_at", "")), f.id))

    def serving_id(self) -> str | None:
        data = read_json(self.serving)
        value = data.get("instance_id") if data else None
        return value if isinstance(value, str) else None

    def proxy_running(self) -> dict[str, Any] | None:
        """The proxy's state if the proxy process runs, else None."""
        state = read_json(self.proxy_state)
        if state is None or state.get("state") != "listening":
            return None
        return state if record_alive(state, PROXY_MODULE, str(self.dir)) else None


def live_state(files: InstanceFiles) -> tuple[str, dict[str, Any] | None]:
    """The instance's state ("starting" | "running" | "exited" | "stopped") and its status file."""
    status = files.read_status()
    recorded = status.get("state") if status else None
    if recorded == "stopped":
        return "stopped", status
    if (status and status.get("supervisor_exited")) or not files.supervisor_alive():
        return "exited", status
    if recorded in ("running", "stopping"):
        return "running", status
    # Not yet spawned, or waiting out the backoff before a restart: it will run again.
    return "starting", status


def to_instance(files: InstanceFiles) -> Instance:
    """What `observe` shows of one instance."""
    spec = files.read_spec()
    state, status = live_state(files)
    status = status or {}
    pid = status.get("child_pid") if state == "running" else None
    return Instance(
        id=files.id,
        version=str(spec.get("version", "")),
        digest=str(spec.get("digest", "")),
        state=state,
        endpoint=Endpoint(str(spec["host"]), int(spec["port"])) if "port" in spec else None,
        pid=pid if isinstance(pid, int) else None,
        restarts=int(status.get("restarts", 0)),
        started_at=parse_time(status.get("started_at")) or parse_time(spec.get("created_at")),
        log_path=str(files.log),
    )


def _wait(clock: Clock, seconds: float, done: Callable[[], bool]) -> bool:
    deadline = clock.monotonic() + seconds
    while not done():
        if clock.monotonic() >= deadline:
            return False
        clock.sleep(POLL)
    return True


def stop_instance(files: InstanceFiles, clock: Clock) -> None:
    """Stop an instance: SIGTERM its supervisor (which stops the child), wait, escalate; record "stopped"."""
    spec = files.read_spec()
    timeout = float(spec.get("stop_timeout", 10.0))
    if files.supervisor_alive():
        signal_pid(files.supervisor_pid(), signal.SIGTERM)
        # The supervisor itself waits stop_timeout before it SIGKILLs the child: allow for that.
        if not _wait(clock, timeout + 5.0, lambda: not files.supervisor_alive()):
            if files.supervisor_alive():
                signal_pid(files.supervisor_pid(), signal.SIGKILL)
            _wait(clock, 5.0, lambda: not files.supervisor_alive())
    status = files.read_status()
    if files.child_alive(status):
        # An orphan (its supervisor died): stop its process group ourselves.
        assert status is not None
        pgid = int(status["child_pid"])
        signal_group(pgid, signal.SIGTERM)
        if not _wait(clock, timeout, lambda: not files.child_alive(status)):
            signal_group(pgid, signal.SIGKILL)
            _wait(clock, 5.0, lambda: not files.child_alive(status))
    status = files.read_status()
    if files.dir.is_dir() and (status is None or status.get("state") != "stopped"):
        atomic_write_json(
            files.status_path,
            {
                **(status or {}),
                "state": "stopped",
                "child_pid": None,
                "supervisor_exited": True,
                "updated_at": clock.now().isoformat(),
            },
        )


@dataclass
class EventCursor:
    """What `events` already returned for one instance."""

    exits: int = 0
    restarts: int = 0
    started: bool = False
    crash_loop: bool = False
    config_error: bool = False
    supervisor_died: bool = False


def _crash_loop_at(restart_times: list[dict[str, Any]]) -> datetime | None:
    times = sorted(t for t in (parse_time(r.get("at")) for r in restart_times) if t is not None)
    for i in range(len(times) - CRASH_LOOP_RESTARTS + 1):
        last = times[i + CRASH_LOOP_RESTARTS - 1]
        if last - times[i] <= CRASH_LOOP_WINDOW:
            return last
    return None


def new_events(files: InstanceFiles, cursor: EventCursor, clock: Clock) -> list[TargetEvent]:
    """Events of the instance that `cursor` has not seen yet (and advance it)."""
    status = files.read_status()
    now = clock.now()
    out: list[TargetEvent] = []
    if status is not None:
        at = parse_time(status.get("first_spawn_at"))
        if not cursor.started and at is not None:
            cursor.started = True
            out.append(TargetEvent(EventKind.STARTED, at, detail="process started"))
        for ex in status.get("exits", []):
            if int(ex.get("n", 0)) <= cursor.exits:
                continue
            cursor.exits = int(ex["n"])
            sig = ex.get("signal")
            detail = f"exited with code {ex.get('code')}" + (f" (killed by {sig})" if sig else "")
            out.append(TargetEvent(EventKind.EXITED, parse_time(ex.get("at")) or now, detail, ex.get("code")))
        for rs in status.get("restart_times", []):
            if int(rs.get("n", 0)) <= cursor.restarts:
                continue
            cursor.restarts = int(rs["n"])
            at = parse_time(rs.get("at")) or now
            out.append(TargetEvent(EventKind.RESTARTED, at, detail=f"restart {cursor.restarts}"))
        loop_at = _crash_loop_at(status.get("restart_times", []))
        if not cursor.crash_loop and loop_at is not None:
            cursor.crash_loop = True
            detail = f"restarted {CRASH_LOOP_RESTARTS} times within {int(CRASH_LOOP_WINDOW.total_seconds())}s"
            out.append(TargetEvent(EventKind.CRASH_LOOP, loop_at, detail=detail))
        error = status.get("spawn_error")
        if not cursor.config_error and error:
            cursor.config_error = True
            at = parse_time(status.get("updated_at")) or now
            out.append(TargetEvent(EventKind.CONFIG_ERROR, at, detail=str(error)))
    gave_up = bool(status and status.get("supervisor_exited"))
    pid = files.supervisor_pid()
    if not cursor.supervisor_died and pid is not None and not gave_up and not files.supervisor_alive():
        # Re-read: the supervisor may have finished cleanly between the two reads.
        status = files.read_status()
        if not (status and status.get("supervisor_exited")):
            cursor.supervisor_died = True
            out.append(TargetEvent(EventKind.EXITED, now, detail=f"supervisor (pid {pid}) died"))
    out.sort(key=lambda e: e.at)
    return out
