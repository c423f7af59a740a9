"""The backup catalog and drill records, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tiation.clock import FakeClock
from tiation.errors import StateError
from tiation.redact import register_secret
from tiation.state import StateStore


def _record(
    store: StateStore, clock: FakeClock, backup_id: str, name: str = "db", **manifest: object
) -> None:
    start = clock.now()
    clock.advance(5)
    with store.write() as uow:
        uow.backups.record(
            backup_id=backup_id,
            name=name,
            storage="local",
            started_at=start,
            finished_at=clock.now(),
            size=1234,
            sha256="ab" * 32,
            manifest={"id": backup_id, **manifest},
        )


def test_catalog_lists_newest_first_and_keeps_pin_and_verify(
    store: StateStore, fake_clock: FakeClock
) -> None:
    _record(store, fake_clock, "db-20260101T000005Z-aaaa")
    _record(store, fake_clock, "db-20260101T000010Z-bbbb")
    _record(store, fake_clock, "files-20260101T000015Z-cccc", name="files")
    with store.read() as uow:
        assert [b.id for b in uow.backups.find(name="db")] == [
            "db-20260101T000010Z-bbbb",
            "db-20260101T000005Z-aaaa",
        ]
        assert len(uow.backups.find()) == 3
    with store.write() as uow:
        uow.backups.set_pinned("db-20260101T000005Z-aaaa", True)
        uow.backups.set_verified("db-20260101T000005Z-aaaa", ok=False, detail="sha256 differs")
    _record(
        store, fake_clock, "db-20260101T000005Z-aaaa", extra="refreshed"
    )  # a rebuild refreshes facts only
    with store.read() as uow:
        row = uow.backups.get("db-20260101T000005Z-aaaa")
    assert row is not None
    assert row.pinned and row.verified is False and row.verify_detail == "sha256 differs"
    assert row.manifest["extra"] == "refreshed"
    assert row.verified_at is not None and row.verified_at.tzinfo is not None
    with store.write() as uow:
        uow.backups.forget("db-20260101T000005Z-aaaa")
    with store.read() as uow:
        assert uow.backups.get("db-20260101T000005Z-aaaa") is None


def test_prefix_lookup(store: StateStore, fake_clock: FakeClock) -> None:
    _record(store, fake_clock, "db-20260101T000005Z-aaaa")
    _record(store, fake_clock, "db-20260101T000010Z-bbbb")
    with store.read() as uow:
        found = uow.backups.get("db-20260101T000010")
    assert found is not None and found.id == "db-20260101T000010Z-bbbb"
    with pytest.raises(StateError, match="ambiguous"), store.read() as uow:
        uow.backups.get("db-2026")
    with store.read() as uow:
        assert uow.backups.get("nope-x") is None


def test_drills_and_redaction(store: StateStore, fake_clock: FakeClock) -> None:
    register_secret("drill-secret-value")
    start = fake_clock.now()
    fake_clock.advance(timedelta(minutes=2).total_seconds())
    with store.write() as uow:
        drill_id = uow.drills.record(
            name="db",
            backup_id="db-1",
            started_at=start,
            passed=True,
            rto_s=120.5,
            objective_s=300.0,
            phases={"fetch_s": 1.0, "note": "dsn postgresql://u:drill-secret-value@h/db"},
            detail="ok",
        )
    with store.read() as uow:
        [drill] = uow.drills.recent(name="db")
    assert drill.id == drill_id and drill.passed and drill.rto_s == 120.5 and drill.objective_s == 300.0
    assert "drill-secret-value" not in str(drill.phases)
    assert drill.finished_at - drill.started_at == timedelta(minutes=2)
