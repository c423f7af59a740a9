"""Helpers for the compose target tests: a kit around a target on the session's Docker engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fixtures.common import free_port, http_get, try_get, wait_until  # noqa: F401 (re-exported to the tests)
from fixtures.docker import DockerEngine
from tiation.clock import SystemClock
from tiation.config.models import Health, HttpCheck, Probe
from tiation.deploy.health import ProbeResult, run_probe
from tiation.deploy.verdict import Failed, Healthy
from tiation.deploy.verify import Observation, verify
from tiation.secrets import SecretRef
from tiation.targets.base import Endpoint, EventKind, Release, Rollout, TargetEvent
from tiation.targets.compose.target import ComposeTarget

ENV = "test"
HEALTH_PROBE: dict[str, Any] = {
    "name": "http /health",
    "kind": "http",
    "path": "/health",
    "interval_s": 0.5,
    "timeout_s": 1.0,
    "initial_delay_s": 0.0,
    "success_threshold": 1,
    "failure_threshold": 2,
}


def prober(probe: Probe, endpoint: Endpoint, version: str) -> ProbeResult:
    return run_probe(probe, endpoint, version=version, clock=SystemClock())


class Client(threading.Thread):
    """Requests the public port every 20 ms; records every answer (None for a failed request)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.answers: list[str | None] = []
        self.stop_flag = threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.answers.append(try_get(self.port))
            time.sleep(0.02)

    def finish(self) -> list[str | None]:
        self.stop_flag.set()
        self.join(timeout=10)
        return self.answers


@dataclass
class ComposeKit:
    """A compose target on the test engine, with its own compose project, plus what the tests need."""

    target: ComposeTarget
    engine: DockerEngine
    tmp: Path
    project: str
    ports: dict[str, int] = field(default_factory=dict)

    def release(
        self,
        version: str,
        *,
        mode: str = "serve",
        service: str = "web",
        env: Mapping[str, str | SecretRef] | None = None,
        config: Mapping[str, str] | None = None,
        image: str | None = None,
        after: float = 2.0,
    ) -> Release:
        """A release of the test app; its image (`tiation-test/<mode>:<version>`) is built on first use."""
        if image is None:
            image = self.engine.image(
                f"tiation-test/{mode}:{version}", version=version, mode=mode, after=after
            )
        return Release(
            environment=ENV,
            service=service,
            version=version,
            command=(),
            port=self.public_port(service),
            env=env or {},
            config=config or {},
            stop_timeout=3.0,
            image=image,
            workload={"probes": [HEALTH_PROBE]},
        )

    def public_port(self, service: str) -> int:
        return self.ports.setdefault(service, free_port())

    def verify(
        self, rollout: Rollout, *, stable_for: float = 0.0, deadline: float = 20.0
    ) -> tuple[Healthy | Failed, Observation]:
        """The deploy engine's real verify loop (probes + events) on the candidate."""
        health = Health(
            probes=[
                Probe(http=HttpCheck(path="/health"), interval="300ms", timeout="1s", failure_threshold=2)
            ],
            deadline=f"{deadline:g}s",
            stable_for=f"{stable_for:g}s",
        )
        return verify(self.target, rollout, health, clock=SystemClock(), prober=prober)

    def deploy(self, release: Release) -> Rollout:
        """apply → verify (must be healthy) → promote."""
        rollout = self.target.apply(release)
        verdict, seen = self.verify(rollout)
        assert isinstance(verdict, Healthy), (verdict, seen.evidence())
        self.target.promote(rollout)
        return rollout

    def events_until(self, rollout: Rollout, kind: EventKind, timeout: float = 20.0) -> list[TargetEvent]:
        """Poll `events` until one of `kind` has been seen; every event seen so far."""
        seen: list[TargetEvent] = []

        def found() -> bool:
            seen.extend(self.target.events(rollout))
            return any(e.kind is kind for e in seen)

        wait_until(found, timeout, f"a {kind} event")
        return seen

    def containers(self) -> list[dict[str, Any]]:
        return self.engine.containers(tiation_project=self.project)
