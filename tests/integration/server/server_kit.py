"""The server under test: the real app under uvicorn in a subprocess on a free loopback port.

`launch(root, index, config, env)` writes the config, starts `fake_server_main.py`, waits for `/healthz`, and
returns a `ServerProcess` whose log (stderr and stdout) is kept in a file for the tests to read.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures.common import free_port

MAIN = Path(__file__).with_name("fake_server_main.py")


@dataclass
class ServerProcess:
    """One running server."""

    root: Path
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    responses: list[httpx.Response] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        """A client that keeps every response (for the tests that grep them all)."""
        return httpx.Client(
            base_url=self.base,
            timeout=10,
            event_hooks={"response": [self._keep]},
        )

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        self.responses.append(response)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Signal the server and wait for it; its exit code."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return int(self.proc.returncode)

    def recorded(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(self.base + "/_test/events", timeout=10).json()
        return data


StartServer = Callable[..., ServerProcess]


def launch(root: Path, name: str, config: dict[str, Any], env: dict[str, str] | None = None) -> ServerProcess:
    """Start a server with `config` (see fake_server_main.py) and wait until it is healthy."""
    port = free_port()
    config_path = root / f"{name}.json"
    config_path.write_text(json.dumps({"port": port, **config}))
    log_path = root / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(MAIN), str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    server = ServerProcess(root, port, proc, log_path)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{server.log()[-3000:]}", pytrace=False)
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.base + "/healthz", timeout=2).status_code == 200:
                return server
        if time.monotonic() > deadline:
            server.stop()
            pytest.fail(f"server did not become healthy:\n{server.log()[-3000:]}", pytrace=False)
        time.sleep(0.05)
