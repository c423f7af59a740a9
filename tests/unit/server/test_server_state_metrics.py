"""`/metrics` of `tiation serve` includes gauges read from the state store: incidents, pages, backups."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from fixtures.alerting_kit import PLATFORM, T0, firing, make_service
from tiation.server.state_metrics import StateCollector

BACKUPS = """
storage:
  local: {dir: {path: backups}}
backups:
  cms-db:
    source: {sqlite: {path: data/cms.db}}
    storage: local
"""


def _scrape(collector: StateCollector) -> dict[str, float]:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(collector)
    values: dict[str, float] = {}
    for line in generate_latest(registry).decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_incident_step_outbox_and_backup_gauges(tmp_path: Path) -> None:
    svc = make_service(tmp_path, PLATFORM + BACKUPS)
    svc.ingest([firing(severity="critical"), firing("Other")])
    svc.fire_due()
    with svc.store.write() as uow:
        uow.backups.record(
            backup_id="cms-db-1",
            name="cms-db",
            storage="local",
            started_at=T0,
            finished_at=T0 + timedelta(seconds=4),
            size=1234,
            sha256="0" * 64,
            manifest={},
        )
    values = _scrape(StateCollector(svc.platform, svc.store))
    assert values["tiation_state_up"] == 1
    assert values['tiation_incidents_open{severity="critical",state="triggered"}'] == 1
    assert values['tiation_incidents_open{severity="warning",state="triggered"}'] == 1
    # critical (route "quick"): 1 of 2 steps left; warning (standard: 2 steps x 2 rounds): 3 of 4 left
    assert values["tiation_escalation_steps_pending"] == 4
    assert values["tiation_outbox_pending"] > 0
    assert values['tiation_backup_count{backup="cms-db"}'] == 1
    assert values['tiation_backup_last_size_bytes{backup="cms-db"}'] == 1234
    assert values['tiation_backup_last_duration_seconds{backup="cms-db"}'] == 4


def test_a_failing_store_reads_as_down_not_as_an_error(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    svc.store.close()
    (tmp_path / "state.db").unlink()
    (tmp_path / "state.db").mkdir()  # the store can no longer be opened as a file
    values = _scrape(StateCollector(svc.platform, svc.store))
    assert values == {"tiation_state_up": 0}
