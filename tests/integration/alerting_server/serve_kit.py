"""The real `tiation serve` (the CLI, in a subprocess) on a platform file, the CLI beside it, and HTTP receivers
for its notifiers.

`Serve(platform, env)` starts `python -m tiation -f PLATFORM serve` with its own environment (secrets go there,
never into the test process), waits for `/healthz`, and appends its stderr and stdout to one log file across
restarts. `serve.cli(...)` runs any other command on the same platform file and state store. `servers(root)`
hands out servers and, at the end, stops them and fails if a process started under `root` is still running.

`Receiver` is a webhook receiver on a chosen or free loopback port that records each request with the time it
arrived and answers as scripted (a status, optionally quoting the request back, as careless receivers do); it
can be closed and started again on the same port (a receiver that is down for a while).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures.common import free_port, our_processes
from fixtures.monitoring import wait_for

__all__ = ["Hit", "Receiver", "Run", "Serve", "closed_port", "free_port", "servers", "signed_by", "wait_for"]


@dataclass(frozen=True)
class Run:
    """A finished CLI command."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without tiation's own variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIATION_") and k != "PYTEST_CURRENT_TEST"}
    env.update(extra or {})
    return env


@dataclass
class Serve:
    """`tiation serve` on one platform file; start, stop and start again."""

    platform: Path
    env: dict[str, str]
    port: int
    outputs: list[str] = field(default_factory=list)
    """The output of every CLI command run through `cli` (for tests that grep everything)."""
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    """time.time() when the current process was spawned."""
    ready_at: float = 0.0
    """time.time() when the current process first answered /healthz."""

    @property
    def root(self) -> Path:
        return self.platform.parent

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "serve.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 60.0) -> Serve:
        """Spawn the server and wait until /healthz answers 200."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            self.started_at = time.time()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tiation", "-f", str(self.platform), "serve"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env=self.env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"tiation serve exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    self.ready_at = time.time()
                    return self
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"tiation serve did not become healthy:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Signal the server's process group and wait; its exit code (None if it was not running)."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        return int(proc.returncode)

    def cli(self, *args: str, expect: int | None = 0, env: dict[str, str] | None = None) -> Run:
        """Run `tiation -f PLATFORM ARGS…` with the server's environment (and `env` on top)."""
        proc = subprocess.run(
            [sys.executable, "-m", "tiation", "-f", str(self.platform), *args],
            env={**self.env, **(env or {})},
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        run = Run(tuple(args), proc.returncode, proc.stdout, proc.stderr)
        self.outputs.append(run.out)
        if expect is not None:
            assert run.code == expect, f"tiation {' '.join(args)} exited {run.code}:\n{run.out}"
        return run

    def incident(self, incident_id: str) -> dict[str, Any]:
        """`tiation alerts show ID --json`."""
        data: dict[str, Any] = self.cli("alerts", "show", incident_id, "--json").json()
        return data


StartServe = Callable[..., Serve]


@contextlib.contextmanager
def servers(root: Path) -> Iterator[StartServe]:
    """`start(platform_text, env=…)` writes `root/<n>/tiation.yaml` (`{port}` is replaced by a free port) and
    returns a started `Serve`; on exit every server is stopped and none may linger."""
    started: list[Serve] = []
    root.mkdir(parents=True, exist_ok=True)

    def start(text: str, *, env: dict[str, str] | None = None, run: bool = True) -> Serve:
        home = root / f"platform-{len(started)}"
        home.mkdir()
        port = free_port()
        platform = home / "tiation.yaml"
        platform.write_text(text.replace("{port}", str(port)))
        serve = Serve(platform, clean_env(env), port)
        started.append(serve)
        return serve.start() if run else serve

    try:
        yield start
    finally:
        for serve in started:
            serve.stop()
        leftovers = our_processes(root)
        assert not leftovers, f"tiation processes left running: {leftovers}"


@dataclass(frozen=True)
class Hit:
    """One request a receiver got, and when (time.time())."""

    at: float
    path: str
    headers: dict[str, str]
    """Lower-case names."""
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def key(self) -> str:
        """The notification's idempotency key (the webhook notifier's `Idempotency-Key`)."""
        return self.headers.get("idempotency-key", "")


def signed_by(secret: str, hit: Hit) -> bool:
    """Whether the webhook signature of `hit` is the HMAC-SHA256 of its exact body under `secret`."""
    expected = "sha256=" + hmac.new(secret.encode(), hit.raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, hit.headers.get("x-tiation-signature", ""))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class Receiver:
    """An HTTP receiver on 127.0.0.1 recording every POST; answers `status` (200 by default).

    With `echo=True` the answer quotes the request's path, headers and body back (a receiver that repeats a
    secret it was sent must not make tiation print it). `start()` / `close()` may be called again (same port).
    """

    def __init__(self, port: int | None = None, *, status: int = 200, echo: bool = False) -> None:
        self.port = port or free_port()
        self.status = status
        self.echo = echo
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.hits.append(Hit(time.time(), self.path, headers, raw))
                body = b"no"
                if receiver.echo:
                    body = f"{self.path} ".encode() + raw + f" {json.dumps(headers)}".encode()
                self.send_response(receiver.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def received(self) -> list[Hit]:
        with self._lock:
            return list(self.hits)

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    return free_port()
