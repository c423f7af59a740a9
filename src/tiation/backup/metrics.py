"""Backup metrics: what `tiation backup metrics` prints and `tiation serve` includes in `/metrics`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from tiation.state import BackupRow, DrillRow

_FAMILIES = (
    (
        "success",
        "tiation_backup_last_success_timestamp_seconds",
        "When the newest complete backup finished (Unix time).",
    ),
    ("size", "tiation_backup_last_size_bytes", "Stored size of the newest backup."),
    ("duration", "tiation_backup_last_duration_seconds", "How long the newest backup took."),
    (
        "verify",
        "tiation_backup_last_verify_ok",
        "1 if the newest backup's last verify passed, 0 if it failed (absent: never verified).",
    ),
    ("count", "tiation_backup_count", "Complete backups in the catalog."),
    ("rto", "tiation_backup_drill_rto_seconds", "Measured RTO of the last restore drill."),
    (
        "rto_ok",
        "tiation_backup_drill_within_objective",
        "1 if the last drill restored within its objective, else 0.",
    ),
)


def backup_families(
    backups: Sequence[BackupRow], drills: Sequence[DrillRow], names: Sequence[str]
) -> list[Any]:
    """Gauge families for the newest backup of each configured backup `names` (and its last drill)."""
    from prometheus_client.core import GaugeMetricFamily

    newest: dict[str, BackupRow] = {}
    for row in backups:
        if row.name not in newest or row.finished_at > newest[row.name].finished_at:
            newest[row.name] = row
    last_drill: dict[str, DrillRow] = {}
    for drill in drills:
        if drill.name not in last_drill or drill.started_at > last_drill[drill.name].started_at:
            last_drill[drill.name] = drill
    families = {key: GaugeMetricFamily(name, doc, labels=["backup"]) for key, name, doc in _FAMILIES}
    for name in sorted(names):
        count = sum(1 for b in backups if b.name == name)
        families["count"].add_metric([name], count)
        latest = newest.get(name)
        if latest is not None:
            families["success"].add_metric([name], latest.finished_at.timestamp())
            families["size"].add_metric([name], latest.size)
            families["duration"].add_metric([name], (latest.finished_at - latest.started_at).total_seconds())
            if latest.verified is not None:
                families["verify"].add_metric([name], 1 if latest.verified else 0)
        last = last_drill.get(name)
        if last is not None:
            families["rto"].add_metric([name], last.rto_s)
            families["rto_ok"].add_metric([name], 1 if last.passed else 0)
    return list(families.values())


def backup_metrics(backups: Sequence[BackupRow], drills: Sequence[DrillRow], names: Sequence[str]) -> bytes:
    """OpenMetrics exposition of `backup_families` (what `tiation backup metrics` prints)."""
    from prometheus_client.core import CollectorRegistry
    from prometheus_client.openmetrics.exposition import generate_latest
    from prometheus_client.registry import Collector

    class _Backups(Collector):
        def collect(self) -> Iterator[Any]:
            yield from backup_families(backups, drills, names)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Backups())
    return bytes(generate_latest(registry))  # type: ignore[no-untyped-call]
