"""Starting, switching and stopping the per-service TCP proxy (`local_proxy`) and other detached helpers.

Shared by the targets that serve a public port through that proxy (`local`, `compose`): the proxy forwards each
new connection to the instance named in `serving.json` of the service directory, so promoting a candidate is
"rewrite serving.json, SIGHUP the proxy, wait until it has switched and drained".
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from tiation.clock import Clock
from tiation.errors import TargetError
from tiation.private import open_private_append
from tiation.targets.proxied.common import bind_check, read_json, record_alive, signal_pid
from tiation.targets.proxied.instances import PROXY_MODULE, ServicePaths

LAUNCH_TIMEOUT = 15.0  # for a detaching process to hand over its pid
PROXY_START_TIMEOUT = 10.0
PROXY_SWITCH_TIMEOUT = 5.0


def wait_for(clock: Clock, seconds: float, done: Callable[[], bool], *, poll: float = 0.05) -> bool:
    """Poll `done` until it is true (True) or `seconds` have passed (False)."""
    deadline = clock.monotonic() + seconds
    while not done():
        if clock.monotonic() >= deadline:
            return False
        clock.sleep(poll)
    return True


def launch_detached(argv: list[str], log: Path, pid_file: Path, what: str) -> None:
    """Start `python -m ARGV --pid-file PID_FILE`, a process that detaches itself; return once it has recorded
    its pid. TargetError if it does not."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open_private_append(log) as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", *argv, "--pid-file", str(pid_file)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    try:
        code = proc.wait(timeout=LAUNCH_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise TargetError(f"{what} did not start within {LAUNCH_TIMEOUT:g}s (see {log})") from None
    if code != 0 or read_json(pid_file) is None:
        raise TargetError(f"{what} failed to start (exit code {code}, see {log})")


def _record_gone(record: dict[str, Any], *args: str) -> bool:
    return not record_alive(record, *args)


class ProxyControl:
    """The proxy of one service: its files are those of `paths` (proxy.json, proxy.pid, serving.json)."""

    def __init__(self, paths: ServicePaths, host: str, clock: Clock) -> None:
        self.paths = paths
        self.host = host
        self.clock = clock

    def running(self) -> dict[str, Any] | None:
        """The proxy's state if it runs, else None."""
        return self.paths.proxy_running()

    def check_public_port(self, port: int) -> None:
        """TargetError unless `port` is ours already (our proxy listens there) or free to listen on."""
        proxy = self.paths.proxy_running()
        if proxy and proxy.get("port") == port and proxy.get("host") == self.host:
            return
        reason = bind_check(self.host, port)
        if reason == "in use":
            raise TargetError(f"port {port} on {self.host} is in use by another process")
        if reason:
            raise TargetError(f"cannot listen on {self.host}:{port}: {reason}")

    def stop(self) -> None:
        """Stop the proxy (SIGTERM, then SIGKILL) and delete its files."""
        paths = self.paths
        for record in (read_json(paths.proxy_state), read_json(paths.proxy_pid_file)):
            if not record_alive(record, PROXY_MODULE, str(paths.dir)):
                continue
            assert record is not None
            gone = partial(_record_gone, record, PROXY_MODULE, str(paths.dir))
            signal_pid(record["pid"], signal.SIGTERM)
            if not wait_for(self.clock, 5.0, gone):
                signal_pid(record["pid"], signal.SIGKILL)
                wait_for(self.clock, 5.0, gone)
        paths.proxy_state.unlink(missing_ok=True)
        paths.proxy_pid_file.unlink(missing_ok=True)

    def ensure(self, port: int) -> dict[str, Any]:
        """The running proxy of the service on `port`, started if needed."""
        paths = self.paths
        state = paths.proxy_running()
        if state and state.get("port") == port and state.get("host") == self.host:
            return state
        if state or paths.proxy_state.exists():
            self.stop()  # a proxy on a former public port, or a dead one's files
        self.check_public_port(port)
        argv = [PROXY_MODULE, "--dir", str(paths.dir), "--host", self.host, "--port", str(port)]
        launch_detached(argv, paths.proxy_log, paths.proxy_pid_file, f"proxy of {paths.service}")
        launched = read_json(paths.proxy_pid_file)
        pid = (launched or {}).get("pid")

        def settled() -> bool:
            current = read_json(paths.proxy_state) or {}
            return current.get("pid") == pid or not record_alive(launched, PROXY_MODULE, str(paths.dir))

        wait_for(self.clock, PROXY_START_TIMEOUT, settled)
        state = read_json(paths.proxy_state) or {}
        if state.get("pid") == pid and state.get("state") == "listening":
            return state
        error = state.get("error") if state.get("pid") == pid else None
        self.stop()
        raise TargetError(str(error or f"proxy of {paths.service} did not start (see {paths.proxy_log})"))

    def switch(self, proxy: dict[str, Any], instance_id: str, drain: float) -> None:
        """Make the proxy re-read serving.json now, and wait until older upstreams have drained."""
        paths = self.paths
        signal_pid(int(proxy["pid"]), signal.SIGHUP)

        def upstream(drained: bool) -> bool:
            state = read_json(paths.proxy_state) or {}
            up = state.get("upstream") or {}
            return up.get("instance_id") == instance_id and (state.get("drained") is True or not drained)

        if not wait_for(self.clock, PROXY_SWITCH_TIMEOUT, lambda: upstream(False)):
            raise TargetError(
                f"proxy of {paths.service} did not switch to {instance_id} (see {paths.proxy_log})"
            )
        wait_for(self.clock, drain, lambda: upstream(True))
