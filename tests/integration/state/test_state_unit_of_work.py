"""One unit of work, one transaction: what a block writes in several areas commits together or not at all,
on SQLite and PostgreSQL. The audit insert is made to fail for real (a NOT NULL column left empty)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tiation.clock import FakeClock
from tiation.errors import StateError
from tiation.state import StateStore, UnitOfWork

ENV, SVC = "production", "cms"


def _running_deployment(store: StateStore) -> str:
    with store.write() as uow:
        return uow.deployments.create(
            environment=ENV, service=SVC, version="1.0", digest="sha256:a", actor="alice", kind="deploy"
        )


def _failing_audit(uow: UnitOfWork) -> None:
    uow.audit.record(actor=None, action="broken")  # type: ignore[arg-type]


def _record_backup(uow: UnitOfWork, clock: FakeClock) -> None:
    uow.backups.record(
        backup_id="db-20260101T000000Z-aaaa",
        name="db",
        storage="local",
        started_at=clock.now(),
        finished_at=clock.now(),
        size=1,
        sha256="ab" * 32,
        manifest={},
    )


def _add_silence(uow: UnitOfWork, clock: FakeClock) -> int:
    now = clock.now()
    return uow.alerts.add_silence({"service": SVC}, now, now + timedelta(hours=1), "maint", "alice", now)


def test_a_deployment_result_and_its_audit_entry_commit_together(store: StateStore) -> None:
    dep = _running_deployment(store)
    with store.write("finish a deployment") as uow:
        uow.deployments.finish(dep, status="succeeded", verdict="healthy", evidence={})
        uow.audit.record(actor="alice", action="deploy.succeeded", deployment_id=dep)
    with store.read() as uow:
        found = uow.deployments.get(dep)
        events = uow.audit.events(deployment_id=dep)
    assert found is not None and found.status == "succeeded"
    assert [e.action for e in events] == ["deploy.succeeded"]


def test_a_failing_audit_insert_leaves_the_deployment_unfinished(store: StateStore) -> None:
    dep = _running_deployment(store)
    with (
        pytest.raises(StateError, match=r"cannot finish a deployment: .*"),
        store.write("finish a deployment") as uow,
    ):
        uow.deployments.finish(dep, status="succeeded", verdict="healthy", evidence={})
        _failing_audit(uow)
    with store.read() as uow:
        found = uow.deployments.get(dep)
        events = uow.audit.events()
    assert found is not None and (found.status, found.verdict, found.finished_at) == ("running", None, None)
    assert events == []


def test_a_failing_audit_insert_leaves_no_silence(store: StateStore, fake_clock: FakeClock) -> None:
    with pytest.raises(StateError, match="cannot add a silence"), store.write("add a silence") as uow:
        _add_silence(uow, fake_clock)
        _failing_audit(uow)
    with store.read() as uow:
        assert uow.alerts.list_silences() == []
        assert uow.audit.events() == []


def test_a_failing_audit_insert_leaves_no_backup_record(store: StateStore, fake_clock: FakeClock) -> None:
    with pytest.raises(StateError, match="cannot record a backup"), store.write("record a backup") as uow:
        _record_backup(uow, fake_clock)
        _failing_audit(uow)
    with store.read() as uow:
        assert uow.backups.find() == []
        assert uow.audit.events() == []


def test_an_exception_inside_the_block_rolls_every_area_back(
    store: StateStore, fake_clock: FakeClock
) -> None:
    dep = _running_deployment(store)
    with (
        pytest.raises(RuntimeError, match=r"^boom$"),
        store.write() as uow,
    ):  # not a StateError: passed through
        uow.deployments.finish(dep, status="failed", verdict="unhealthy", evidence={})
        _record_backup(uow, fake_clock)
        _add_silence(uow, fake_clock)
        uow.audit.record(actor="alice", action="everything")
        raise RuntimeError("boom")
    with store.read() as uow:
        found = uow.deployments.get(dep)
        assert found is not None and found.status == "running"
        assert uow.backups.find() == []
        assert uow.alerts.list_silences() == []
        assert uow.audit.events() == []


def test_one_block_commits_every_area(store: StateStore, fake_clock: FakeClock) -> None:
    with store.write() as uow:
        _record_backup(uow, fake_clock)
        silence_id = _add_silence(uow, fake_clock)
        uow.audit.record(actor="alice", action="backup.succeeded")
        uow.audit.record(actor="alice", action="alerts.silence.add", details={"id": silence_id})
    with store.read() as uow:
        assert [b.id for b in uow.backups.find()] == ["db-20260101T000000Z-aaaa"]
        assert [s.id for s in uow.alerts.list_silences()] == [silence_id]
        assert [e.action for e in uow.audit.events()] == ["backup.succeeded", "alerts.silence.add"]


def test_a_write_inside_a_write_is_refused(store: StateStore) -> None:
    with store.write() as uow:
        uow.audit.record(actor="alice", action="outer")
        with pytest.raises(StateError, match="already open in this thread"), store.write():
            pass  # pragma: no cover - never entered
    with store.read() as uow:
        assert [e.action for e in uow.audit.events()] == ["outer"]
