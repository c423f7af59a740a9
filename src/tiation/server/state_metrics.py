"""`/metrics` gauges read from the state store at scrape time: open incidents, pending pages, undelivered
notifications, and every configured backup's newest run and last drill — so one Prometheus scrape of
`tiation serve` covers alerting and backups (and an alert can fire when backups stop)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tiation.backup.metrics import backup_families
from tiation.config.models import Platform
from tiation.errors import TiationError
from tiation.redact import redact
from tiation.state.store import StateStore

log = logging.getLogger("tiation.server.metrics")


class StateCollector(Collector):
    """Collects the gauges on each scrape (a failed read yields `tiation_state_up 0`, never an error page)."""

    def __init__(self, platform: Platform, store: StateStore) -> None:
        self.platform = platform
        self.store = store

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily("tiation_state_up", "1 if the state store answered this scrape.")
        try:
            families = list(self._families())
        except TiationError as exc:
            log.warning("metrics: %s", redact(str(exc)))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[Any]:
        with self.store.read("read metrics") as uow:
            counts = uow.alerts.open_incident_counts()
            steps = uow.alerts.pending_step_count()
            outbox = uow.alerts.outbox_pending_count()
        incidents = GaugeMetricFamily(
            "tiation_incidents_open", "Open incidents by state and severity.", labels=["state", "severity"]
        )
        for (state, severity), n in sorted(counts.items()):
            incidents.add_metric([state, severity], n)
        yield incidents
        yield GaugeMetricFamily(
            "tiation_escalation_steps_pending", "Escalation steps still to fire.", value=steps
        )
        yield GaugeMetricFamily("tiation_outbox_pending", "Notifications not yet delivered.", value=outbox)
        if self.platform.backups:
            with self.store.read("read metrics") as uow:
                backups = uow.backups.find()
                drills = uow.drills.recent(limit=1000)
            yield from backup_families(backups, drills, sorted(self.platform.backups))
