"""What `tiation serve` runs: the alert engine behind the intake, its escalation timers and outbox worker, and
the management API — all on one state store and one clock.

The engine wakes the timers and the outbox whenever a commit planned steps or queued notifications, so a page
goes out within milliseconds of the alert that caused it; both also look on their own every `poll` seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from prometheus_client import CollectorRegistry

from tiation.alerting.escalation import EscalationTimers
from tiation.alerting.notifiers.factory import make_notifier
from tiation.alerting.outbox import OutboxWorker
from tiation.alerting.service import AlertService
from tiation.clock import Clock
from tiation.config.models import Platform
from tiation.server.api import management_router
from tiation.server.state_metrics import StateCollector
from tiation.state.store import StateStore


@dataclass
class Runtime:
    """The parts of a running server."""

    service: AlertService
    timers: EscalationTimers
    outbox: OutboxWorker
    routers: Sequence[APIRouter]
    registry: CollectorRegistry

    @property
    def services(self) -> list[Any]:
        """Background services in start order (the outbox first: timers feed it)."""
        return [self.outbox, self.timers]


def build_runtime(
    platform: Platform, root: Path, store: StateStore, clock: Clock, *, poll: float = 1.0
) -> Runtime:
    """Wire the engine, timers, outbox and API for `platform` (its `file:` secrets relative to `root`)."""
    notifiers = {
        name: make_notifier(name, settings, clock=clock, base=root)
        for name, settings in platform.notifiers.items()
    }
    outbox = OutboxWorker(store, notifiers, clock, poll=poll)
    timers_box: list[EscalationTimers] = []

    def changed() -> None:
        outbox.wake()
        for timers in timers_box:
            timers.wake()

    service = AlertService(platform, store, clock, on_change=changed)
    timers = EscalationTimers(service, poll=poll)
    timers_box.append(timers)
    router = management_router(platform, store, service, clock.now)
    registry = CollectorRegistry(auto_describe=True)
    registry.register(StateCollector(platform, store))
    return Runtime(service, timers, outbox, [router], registry)
