"""Helpers for the local target tests: a kit around a target, HTTP calls, polling, stray-process search."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fixtures.apps import HTTPAPP
from fixtures.common import free_port, http_get, try_get, wait_until  # noqa: F401 (re-exported to the tests)
from tiation.secrets import SecretRef
from tiation.targets.base import Release
from tiation.targets.local.target import LocalTarget

ENV = "test"


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
