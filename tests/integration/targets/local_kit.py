"""Helpers for the local target tests: a kit around a target, HTTP calls, polling, stray-process search."""

from __future__ import annotations

import http.client
import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from fixtures.apps import HTTPAPP
from fixtures.common import free_port
from tiation.secrets import SecretRef
from tiation.targets.base import Endpoint, Release
from tiation.targets.local import LocalTarget

T = TypeVar("T")
ENV = "test"


def wait_until(check: Callable[[], T | None], timeout: float = 15.0, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def http_get(endpoint: Endpoint | int, path: str = "/", timeout: float = 5.0) -> str:
    """GET over a fresh connection; raises OSError/HTTPException if it fails."""
    host, port = (endpoint.host, endpoint.port) if isinstance(endpoint, Endpoint) else ("127.0.0.1", endpoint)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read().decode()
        if resp.status != 200:
            raise http.client.HTTPException(f"status {resp.status}")
        return body
    finally:
        conn.close()


def try_get(endpoint: Endpoint | int, path: str = "/") -> str | None:
    """Like http_get, but None instead of an error."""
    try:
        return http_get(endpoint, path, timeout=2.0)
    except (OSError, http.client.HTTPException):
        return None


@dataclass
class Kit:
    """A local target plus what the tests need to drive it."""

    target: LocalTarget
    root: Path
    tmp: Path
    ports: dict[str, int] = field(default_factory=dict)

    def release(
        self,
        version: str,
        *,
        service: str = "web",
        port: int | None = None,
        args: tuple[str, ...] = (),
        mode: str = "serve",
        command: tuple[str, ...] | None = None,
        env: Mapping[str, str | SecretRef] | None = None,
        config: Mapping[str, str] | None = None,
        stop_timeout: float = 5.0,
    ) -> Release:
        """A release of the test app (marked with the root, so stray processes can be found)."""
        if command is None:
            base: tuple[str, ...] = (sys.executable, str(HTTPAPP), mode)
            if mode == "serve":
                base += ("--host", "{host}", "--port", "{port}", "--version", version)
            command = (*base, *args, "--tag", str(self.root))
        return Release(
            environment=ENV,
            service=service,
            version=version,
            command=command,
            port=port if port is not None else self.public_port(service),
            env=env or {},
            config=config or {},
            stop_timeout=stop_timeout,
        )

    def public_port(self, service: str) -> int:
        """One free public port per service, for the whole test."""
        return self.ports.setdefault(service, free_port())

    def services(self) -> list[str]:
        base = self.root / "local" / ENV
        return sorted(p.name for p in base.iterdir()) if base.is_dir() else []

    def status(self, service: str, instance_id: str) -> dict[str, Any]:
        path = self.root / "local" / ENV / service / "instances" / instance_id / "status.json"
        return dict(json.loads(path.read_text()))
