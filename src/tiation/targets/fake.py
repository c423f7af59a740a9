"""A scripted, in-memory target for unit tests of the deploy engine (shipped, like httpx's MockTransport).

Each version can be given a `FakeScript`: events at times after apply, when its probes start (and stop) passing,
or an apply error. Time comes from the injected clock, so a whole deploy runs instantly under a FakeClock.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

from tiation.clock import Clock
from tiation.errors import TargetError
from tiation.targets.base import (
    Endpoint,
    EventKind,
    Instance,
    Observed,
    Release,
    Rollout,
    TargetEvent,
)
from tiation.targets.capabilities import Capabilities, TargetProbing


@dataclass(frozen=True)
class FakeScript:
    """How a version behaves on the fake target (seconds are measured from apply)."""

    events: tuple[tuple[float, EventKind, int | None], ...] = ()
    healthy_after: float | None = 0.0  # probes pass from here on; None = never
    unhealthy_after: float | None = None  # probes fail again from here on
    apply_error: str | None = None


@dataclass
class _FakeInstance:
    instance: Instance
    release: Release
    started: float
    script: FakeScript
    cursor: int = 0
    running: bool = True


@dataclass
class FakeTarget:
    """Scripted target. `calls` records every operation for assertions."""

    clock: Clock
    scripts: Mapping[str, FakeScript] = field(default_factory=dict)
    kind: str = "fake"
    reachable: bool = True
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    _instances: dict[str, _FakeInstance] = field(default_factory=dict)
    _serving: dict[str, str] = field(default_factory=dict)
    _ports: itertools.count[int] = field(default_factory=lambda: itertools.count(20000))

    def capabilities(self) -> Capabilities:
        """The fake answers every probe from its script (`probe_ok`)."""
        return Capabilities(probing=TargetProbing(lambda endpoint, _version: self.probe_ok(endpoint)))

    def check(self) -> None:
        if not self.reachable:
            raise TargetError("fake target is unreachable")

    def _script(self, version: str) -> FakeScript:
        return self.scripts.get(version, FakeScript())

    def observe(self, service: str) -> Observed:
        serving_id = self._serving.get(service)
        serving = self._instances[serving_id].instance if serving_id else None
        others = tuple(f.instance for f in self._instances.values() if f.release.service == service)
        return Observed(service, serving, others, Endpoint("127.0.0.1", 1))

    def apply(self, release: Release) -> Rollout:
        self.calls.append(("apply", release.service, release.version))
        script = self._script(release.version)
        if script.apply_error:
            raise TargetError(script.apply_error)
        port = next(self._ports)
        instance_id = f"fake-{port}"
        endpoint = Endpoint("127.0.0.1", port)
        instance = Instance(
            instance_id, release.version, release.digest, "running", endpoint, started_at=self.clock.now()
        )
        self._instances[instance_id] = _FakeInstance(instance, release, self.clock.monotonic(), script)
        return Rollout(release, instance_id, endpoint, self.clock.now(), self._serving.get(release.service))

    def events(self, rollout: Rollout) -> list[TargetEvent]:
        fake = self._instances[rollout.instance_id]
        elapsed = self.clock.monotonic() - fake.started
        due = [e for e in fake.script.events if e[0] <= elapsed]
        out = [
            TargetEvent(kind, self.clock.now(), detail=f"scripted {kind}", exit_code=code)
            for _, kind, code in due[fake.cursor :]
        ]
        fake.cursor = len(due)
        return out

    def probe_ok(self, endpoint: Endpoint) -> tuple[bool, str]:
        """Whether a probe against `endpoint` passes now, and a detail like a real probe's."""
        fake = next((f for f in self._instances.values() if f.instance.endpoint == endpoint), None)
        if fake is None or not fake.running:
            return False, "connection refused"
        elapsed = self.clock.monotonic() - fake.started
        script = fake.script
        if any(t <= elapsed and k is EventKind.EXITED for t, k, _ in script.events):
            return False, "connection refused"
        if script.healthy_after is None or elapsed < script.healthy_after:
            return False, "status 503 (expected 200)"
        if script.unhealthy_after is not None and elapsed >= script.unhealthy_after:
            return False, "status 500 (expected 200)"
        return True, "status 200"

    def promote(self, rollout: Rollout) -> None:
        self.calls.append(("promote", rollout.release.service, rollout.release.version))
        previous = self._serving.get(rollout.release.service)
        self._serving[rollout.release.service] = rollout.instance_id
        if previous and previous != rollout.instance_id:
            self._retire(previous)

    def abort(self, rollout: Rollout) -> None:
        self.calls.append(("abort", rollout.release.service, rollout.release.version))
        self._retire(rollout.instance_id)

    def discard(self, service: str, instance_id: str) -> None:
        if self._serving.get(service) == instance_id:
            raise TargetError(f"{instance_id} is serving {service}; it cannot be discarded")
        self.calls.append(("discard", service, instance_id))
        self._retire(instance_id)

    def leave_candidate(self, release: Release) -> str:
        """Start a candidate and abandon it, as a deploy killed mid-verification would (for tests)."""
        return self.apply(release).instance_id

    def _retire(self, instance_id: str) -> None:
        fake = self._instances[instance_id]
        fake.running = False
        inst = fake.instance
        fake.instance = Instance(inst.id, inst.version, inst.digest, "stopped", inst.endpoint)

    def stop(self, service: str) -> None:
        self.calls.append(("stop", service, ""))
        for instance_id, fake in list(self._instances.items()):
            if fake.release.service == service and fake.running:
                self._retire(instance_id)
        self._serving.pop(service, None)

    def kill_serving(self, service: str) -> None:
        """Simulate the serving instance dying (for tests of rollback when nothing good is left running)."""
        serving_id = self._serving[service]
        self._retire(serving_id)

    def logs(self, service: str, *, instance_id: str | None = None, lines: int = 50) -> list[str]:
        target = instance_id or self._serving.get(service)
        if target is None or target not in self._instances:
            return []
        return [f"fake log of {self._instances[target].release.version}"][-lines:]


def from_platform(_loaded: object, _environment: str, clock: Clock) -> FakeTarget:
    """The target of an environment with `target: fake`: an empty fake (a fresh one per process).

    Found by the deploy engine through the `tiation.targets` entry point named `fake` (pyproject.toml), the
    hook any out-of-tree target uses too; product code never imports this module."""
    return FakeTarget(clock=clock)
