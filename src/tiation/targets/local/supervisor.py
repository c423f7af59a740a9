"""Supervisor of one local instance: `python -m tiation.targets.local_supervisor --spec SPEC.json`.

Started detached by the local target, it runs the instance's command, restarts it with backoff when it exits,
and records everything in `status.json` next to the spec (written atomically on every change). Secret env
values are resolved here, and only here: the spec holds references. The child's output goes to this process's
stdout (the instance log), one timestamp per line, with every secret it may print masked.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import IO, Any

from tiation.clock import Clock, SystemClock
from tiation.errors import ConfigError
from tiation.redact import redact
from tiation.secrets import SecretRef
from tiation.targets.proxied.common import (
    atomic_write_json,
    detach,
    proc_start_ticks,
    read_json,
    signal_group,
)

BACKOFF_START = 0.5
BACKOFF_MAX = 10.0
BACKOFF_RESET_UPTIME = 30.0  # a child that ran this long starts the backoff over
HISTORY = 50  # exits and restarts kept in the status file (counters keep the totals)
POLL = 0.05


class SpawnError(Exception):
    """The command cannot be started at all (a configuration problem, not a crash)."""


BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER")
"""The only variables of the deployer's environment a service inherits (docs/deploy.md, "Least privilege")."""


def resolve_env(spec_env: Mapping[str, Any]) -> dict[str, str]:
    """The minimal base (BASE_ENV, from the deployer's environment) plus the release env, with secret references
    revealed (raises ConfigError if missing). Nothing else of the deployer's environment reaches the service."""
    env = {key: os.environ[key] for key in BASE_ENV if key in os.environ}
    for key, value in spec_env.items():
        if isinstance(value, dict):
            base = value.get("base")
            env[key] = SecretRef(str(value["secret"]), base=Path(base) if base else None).reveal()
        else:
            env[key] = str(value)
    return env


class Supervisor:
    """Runs one command until told to stop; every state change lands in the status file."""

    def __init__(self, spec: Mapping[str, Any], status_path: Path, clock: Clock) -> None:
        self.spec = spec
        self.status_path = status_path
        self.clock = clock
        self.stop_requested = False
        self._out_lock = threading.Lock()
        self.status: dict[str, Any] = {
            "instance_id": spec["instance_id"],
            "supervisor_pid": os.getpid(),
            "child_pid": None,
            "child_start_ticks": None,
            "state": "starting",
            "restarts": 0,
            "restart_times": [],
            "exit_count": 0,
            "exits": [],
            "spawn_error": None,
            "started_at": self._now(),
            "first_spawn_at": None,
            "child_started_at": None,
            "supervisor_exited": False,
        }

    def _now(self) -> str:
        return self.clock.now().isoformat()

    def write(self, **changes: Any) -> None:
        """Apply `changes` to the status and write it."""
        self.status.update(changes, updated_at=self._now())
        atomic_write_json(self.status_path, self.status)

    def say(self, message: str) -> None:
        """A line of the supervisor's own in the log."""
        self._out(f"[supervisor] {redact(message)}\n".encode())

    def _out(self, line: bytes) -> None:
        stamp = self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z "
        with self._out_lock:
            os.write(1, stamp.encode() + line)

    def _pump(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                text = redact(raw.decode("utf-8", "surrogateescape"))
                line = text.encode("utf-8", "surrogateescape")
                self._out(line if line.endswith(b"\n") else line + b"\n")

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the command in its own process group; raise SpawnError if it cannot start."""
        argv = [str(a) for a in self.spec["command"]]
        cwd = self.spec.get("cwd")
        if not argv:
            raise SpawnError("command is empty")
        try:
            env = resolve_env(self.spec.get("env", {}))
        except ConfigError as exc:
            raise SpawnError(exc.message) from None
        except (ValueError, KeyError, TypeError):
            raise SpawnError("the spec holds a malformed secret reference") from None
        if cwd and not Path(cwd).is_dir():
            raise SpawnError(f"working directory not found: {cwd}")
        try:
            return subprocess.Popen(
                argv,
                cwd=cwd or None,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except FileNotFoundError:
            raise SpawnError(f"command not found: {argv[0]}") from None
        except PermissionError:
            raise SpawnError(f"command not executable: {argv[0]}") from None
        except OSError as exc:
            raise SpawnError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None

    def sleep_unless_stopped(self, seconds: float) -> bool:
        """Wait `seconds`; False if a stop was requested meanwhile."""
        deadline = self.clock.monotonic() + seconds
        while not self.stop_requested and self.clock.monotonic() < deadline:
            self.clock.sleep(min(POLL, deadline - self.clock.monotonic()))
        return not self.stop_requested

    def wait_child(self, proc: subprocess.Popen[bytes]) -> int | None:
        """The child's return code, or None if a stop was requested (the child is then stopped)."""
        while True:
            code = proc.poll()
            if code is not None:
                return code
            if self.stop_requested:
                self.terminate(proc)
                return None
            self.clock.sleep(POLL)

    def terminate(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM the child's process group, wait `stop_timeout`, then SIGKILL it."""
        self.write(state="stopping")
        timeout = float(self.spec.get("stop_timeout", 10.0))
        self.say(f"stopping pid {proc.pid} (timeout {timeout:g}s)")
        signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.say(f"pid {proc.pid} did not stop in {timeout:g}s: SIGKILL")
            signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        signal_group(proc.pid, signal.SIGKILL)  # leftovers of the group

    def record_exit(self, code: int) -> None:
        """Add an exit to the status (a signal death counts as 128 + signal number, as shells report it)."""
        sig = None
        if code < 0:
            try:
                sig = signal.Signals(-code).name
            except ValueError:
                sig = f"signal {-code}"
            code = 128 - code
        count = self.status["exit_count"] + 1
        entry = {"n": count, "code": code, "signal": sig, "at": self._now()}
        exits = [*self.status["exits"], entry][-HISTORY:]
        self.say(f"exited with code {code}" + (f" ({sig})" if sig else ""))
        self.write(state="exited", exit_count=count, exits=exits, child_pid=None, child_start_ticks=None)

    def run(self) -> int:
        """Supervise until stopped (0) or the command cannot be started (2)."""
        self.write()
        delay = BACKOFF_START
        first = True
        while not self.stop_requested:
            try:
                proc = self.spawn()
            except SpawnError as exc:
                self.say(str(exc))
                self.write(state="exited", spawn_error=str(exc), supervisor_exited=True)
                return 2
            now = self._now()
            changes: dict[str, Any] = {"state": "running", "child_pid": proc.pid, "child_started_at": now}
            changes["child_start_ticks"] = proc_start_ticks(proc.pid)
            if first:
                changes["first_spawn_at"] = now
            else:
                restarts = self.status["restarts"] + 1
                changes["restarts"] = restarts
                changes["restart_times"] = [*self.status["restart_times"], {"n": restarts, "at": now}][
                    -HISTORY:
                ]
            first = False
            self.write(**changes)
            self.say(f"started pid {proc.pid}")
            assert proc.stdout is not None
            pump = threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True)
            pump.start()
            started = self.clock.monotonic()
            code = self.wait_child(proc)
            if code is None:
                pump.join(timeout=2.0)
                break
            signal_group(proc.pid, signal.SIGKILL)  # a crashed child's leftovers would hold its port
            pump.join(timeout=2.0)
            self.record_exit(code)
            if self.clock.monotonic() - started >= BACKOFF_RESET_UPTIME:
                delay = BACKOFF_START
            if not self.sleep_unless_stopped(delay):
                break
            delay = min(delay * 2, BACKOFF_MAX)
        self.say("stopped")
        self.write(state="stopped", child_pid=None, child_start_ticks=None, supervisor_exited=True)
        return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: read the spec, detach, supervise."""
    parser = argparse.ArgumentParser(prog="tiation.targets.local_supervisor")
    parser.add_argument("--spec", required=True, type=Path)
    parser.add_argument("--pid-file", type=Path, help="detach, and write the supervisor's pid here")
    args = parser.parse_args(argv)
    spec = read_json(args.spec)
    if spec is None:
        print(f"cannot read spec {args.spec}", file=sys.stderr)
        return 2
    supervisor = Supervisor(spec, args.spec.with_name("status.json"), SystemClock())

    def request_stop(signum: int, frame: FrameType | None) -> None:
        supervisor.stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    if args.pid_file is not None:
        detach(args.pid_file)
        supervisor.status["supervisor_pid"] = os.getpid()
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
