"""The server's own metrics, in a registry of its own (never prometheus-client's global one).

| metric | type | labels | meaning |
|---|---|---|---|
| `tiation_intake_requests_total` | counter | intake, outcome | intake requests by how they ended (`OUTCOMES`) |
| `tiation_intake_alerts_received_total` | counter | intake | alerts in requests that were accepted (committed) |
| `tiation_intake_request_duration_seconds` | histogram | intake | request received -> answer ready |
| `tiation_intake_batch_events` | histogram | | events per group commit |
| `tiation_intake_commit_duration_seconds` | histogram | | time of one `ingest` call (one transaction) |
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

OUTCOMES = (
    "accepted",
    "not_configured",
    "unauthorized",
    "unsupported_media_type",
    "too_large",
    "malformed",
    "invalid",
    "overloaded",
    "timeout",
    "error",
)
"""How an intake request can end: 202, 404, 401, 415, 413, 400, 422, 503 (queue full, stopping, or the
unauthenticated body budget spent), 408 (body too slow), 500/503."""
INTAKES = ("alertmanager", "pagerduty", "generic")
CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)


class ServerMetrics:
    """Counters and histograms of the intake path; every series exists (at 0) from the start."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "tiation_intake_requests",
            "Intake requests by intake and outcome.",
            ["intake", "outcome"],
            registry=self.registry,
        )
        self._alerts = Counter(
            "tiation_intake_alerts_received",
            "Alerts in accepted intake requests.",
            ["intake"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "tiation_intake_request_duration_seconds",
            "Intake request latency: received -> answer ready (includes the group commit).",
            ["intake"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_events = Histogram(
            "tiation_intake_batch_events",
            "Events per group commit (one ingest call).",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "tiation_intake_commit_duration_seconds",
            "Duration of one group commit (one ingest call).",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Children are resolved once: a label lookup per request would take a lock and hash the labels.
        self._request_children = {(i, o): self._requests.labels(i, o) for i in INTAKES for o in OUTCOMES}
        self._alert_children = {i: self._alerts.labels(i) for i in INTAKES}
        self._latency_children = {i: self._latency.labels(i) for i in INTAKES}

    def request(self, intake: str, outcome: str, seconds: float, alerts: int = 0) -> None:
        """Count one finished intake request."""
        self._request_children[intake, outcome].inc()
        self._latency_children[intake].observe(seconds)
        if alerts:
            self._alert_children[intake].inc(alerts)

    def batch(self, events: int, seconds: float) -> None:
        """Record one group commit."""
        self.batch_events.observe(events)
        self.commit_seconds.observe(seconds)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
