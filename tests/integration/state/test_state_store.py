"""Releases, deployments, approvals and the audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tiation.clock import FakeClock
from tiation.errors import StateError
from tiation.state import StateStore

pytestmark = pytest.mark.integration

ENV, SVC = "production", "cms"


def _save(store: StateStore, version: str, digest: str, **spec: object) -> None:
    with store.write() as uow:
        uow.releases.save(
            environment=ENV, service=SVC, version=version, digest=digest, spec={"version": version, **spec}
        )


def _deploy(store: StateStore, version: str, digest: str, status: str | None, kind: str = "deploy") -> str:
    with store.write() as uow:
        dep = uow.deployments.create(
            environment=ENV, service=SVC, version=version, digest=digest, actor="alice", kind=kind
        )
    if status is not None:
        with store.write() as uow:
            uow.deployments.finish(dep, status=status, verdict=f"{status}!", evidence={"v": version})
    return dep


def test_url_display_and_backend(store: StateStore, state_url: str) -> None:
    assert store.url_display == state_url  # nothing secret in these URLs
    assert store.backend in ("sqlite", "postgresql")


def test_save_release_round_trips_and_is_idempotent(store: StateStore, fake_clock: FakeClock) -> None:
    spec = {"command": ["run", "{port}"], "env": {"DB": {"secret": "env:DB"}}, "port": 8080, "ünï": "cödé"}
    with store.write() as uow:
        uow.releases.save(environment=ENV, service=SVC, version="1.0", digest="sha256:a", spec=spec)
    fake_clock.advance(5)
    with store.write() as uow:
        uow.releases.save(environment=ENV, service=SVC, version="1.0", digest="sha256:a", spec=spec)
    with store.read() as uow:
        rows = uow.releases.of_service(ENV, SVC)
    assert len(rows) == 1
    row = rows[0]
    assert (row.environment, row.service, row.version, row.digest) == (ENV, SVC, "1.0", "sha256:a")
    assert row.spec == spec
    assert row.created_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert row.created_at.tzinfo is UTC
    assert row.quarantined is False
    assert row.quarantine_reason is None


def test_same_digest_in_another_environment_is_another_release(store: StateStore) -> None:
    _save(store, "1.0", "sha256:a")
    with store.write() as uow:
        uow.releases.save(environment="staging", service=SVC, version="1.0", digest="sha256:a", spec={})
    with store.read() as uow:
        assert len(uow.releases.of_service(ENV, SVC)) == 1
        assert len(uow.releases.of_service("staging", SVC)) == 1
        assert uow.releases.of_service("staging", "other") == []


def test_get_release_by_digest_or_newest_with_version(store: StateStore, fake_clock: FakeClock) -> None:
    _save(store, "1.0", "sha256:a", n=1)
    fake_clock.advance(1)
    _save(store, "1.0", "sha256:b", n=2)  # same version, changed config
    fake_clock.advance(1)
    _save(store, "2.0", "sha256:c")
    with store.read() as uow:
        assert [r.digest for r in uow.releases.of_service(ENV, SVC)] == ["sha256:c", "sha256:b", "sha256:a"]
        by_version = uow.releases.get(ENV, SVC, version="1.0")
    assert by_version is not None and by_version.digest == "sha256:b"
    with store.read() as uow:
        by_digest = uow.releases.get(ENV, SVC, digest="sha256:a")
    assert by_digest is not None and by_digest.spec["n"] == 1
    with store.read() as uow:
        assert uow.releases.get(ENV, SVC, version="9.9") is None
        assert uow.releases.get(ENV, SVC, digest="sha256:zzz") is None
        assert uow.releases.get("staging", SVC, version="1.0") is None


def test_releases_saved_in_the_same_instant_keep_insertion_order(store: StateStore) -> None:
    for i in range(4):
        _save(store, f"{i}.0", f"sha256:{i}")
    with store.read() as uow:
        assert [r.version for r in uow.releases.of_service(ENV, SVC)] == ["3.0", "2.0", "1.0", "0.0"]


def test_quarantine_and_unquarantine(store: StateStore) -> None:
    _save(store, "1.0", "sha256:a")
    with store.write() as uow:
        uow.releases.quarantine(ENV, SVC, "sha256:a", reason="5xx rate 40% after deploy d1")
    with store.read() as uow:
        row = uow.releases.get(ENV, SVC, digest="sha256:a")
    assert row is not None and row.quarantined and row.quarantine_reason == "5xx rate 40% after deploy d1"
    with store.write() as uow:
        uow.releases.unquarantine(ENV, SVC, "sha256:a")
    with store.read() as uow:
        row = uow.releases.get(ENV, SVC, digest="sha256:a")
    assert row is not None and not row.quarantined and row.quarantine_reason is None
    with pytest.raises(StateError, match="no saved release sha256:nope"), store.write() as uow:
        uow.releases.quarantine(ENV, SVC, "sha256:nope", reason="x")


def test_create_and_finish_deployment(store: StateStore, fake_clock: FakeClock) -> None:
    with store.write() as uow:
        dep = uow.deployments.create(
            environment=ENV, service=SVC, version="1.0", digest="sha256:a", actor="alice", kind="deploy"
        )
    assert re.fullmatch(r"[0-9a-f]{12}", dep)
    with store.read() as uow:
        row = uow.deployments.get(dep)
    assert row is not None
    assert (row.status, row.verdict, row.evidence, row.finished_at) == ("running", None, {}, None)
    assert (row.kind, row.actor, row.parent_id) == ("deploy", "alice", None)
    assert row.started_at == fake_clock.now()
    fake_clock.advance(30)
    evidence = {"probes": [{"name": "http", "ok": True, "latency_ms": 12.5}], "window": 30}
    with store.write() as uow:
        uow.deployments.finish(dep, status="succeeded", verdict="healthy for 30s", evidence=evidence)
    with store.read() as uow:
        row = uow.deployments.get(dep)
    assert row is not None
    assert (row.status, row.verdict, row.evidence) == ("succeeded", "healthy for 30s", evidence)
    assert row.finished_at == fake_clock.now()
    assert row.finished_at is not None and row.finished_at.tzinfo is UTC


def test_deployment_ids_are_unique(store: StateStore) -> None:
    ids = {_deploy(store, "1.0", "sha256:a", None) for _ in range(50)}
    assert len(ids) == 50


def test_rollback_records_its_parent(store: StateStore) -> None:
    first = _deploy(store, "1.0", "sha256:a", "failed")
    with store.write() as uow:
        back = uow.deployments.create(
            environment=ENV,
            service=SVC,
            version="0.9",
            digest="sha256:z",
            actor="tiation",
            kind="auto-rollback",
            parent_id=first,
        )
    with store.read() as uow:
        row = uow.deployments.get(back)
    assert row is not None and row.parent_id == first and row.kind == "auto-rollback"
    with pytest.raises(StateError, match="parent deployment 000000000000 not found"), store.write() as uow:
        uow.deployments.create(
            environment=ENV,
            service=SVC,
            version="1",
            digest="d",
            actor="a",
            kind="rollback",
            parent_id="0" * 12,
        )


def test_invalid_kind_and_status_are_refused(store: StateStore) -> None:
    with pytest.raises(StateError, match="unknown deployment kind 'yolo'"), store.write() as uow:
        uow.deployments.create(environment=ENV, service=SVC, version="1", digest="d", actor="a", kind="yolo")
    dep = _deploy(store, "1.0", "sha256:a", None)
    with pytest.raises(StateError, match="unknown final deployment status 'running'"), store.write() as uow:
        uow.deployments.finish(dep, status="running", verdict="", evidence={})
    with pytest.raises(StateError, match="deployment abcdefabcdef not found"), store.write() as uow:
        uow.deployments.finish("abcdefabcdef", status="failed", verdict="", evidence={})


def test_get_deployment_by_prefix(store: StateStore) -> None:
    ids = [_deploy(store, "1.0", "sha256:a", None) for _ in range(40)]
    target = ids[0]
    # the shortest prefix (>= 4) that only `target` has
    prefix = next(target[:n] for n in range(4, 13) if sum(i.startswith(target[:n]) for i in ids) == 1)
    with store.read() as uow:
        found = uow.deployments.get(prefix)
    assert found is not None and found.id == target
    with store.read() as uow:
        assert uow.deployments.get(target[:3]) is None  # too short to be a prefix
        assert uow.deployments.get("zzzz") is None
        assert uow.deployments.get("%%%%") is None  # not a LIKE pattern


def test_get_deployment_ambiguous_prefix_and_id_collisions(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = iter(["abcd00000001", "abcd00000001", "abcd00000002", "abce00000003"])
    monkeypatch.setattr("tiation.state.releases.token_hex", lambda n: next(drawn))
    first = _deploy(store, "1.0", "sha256:a", None)
    second = _deploy(store, "1.0", "sha256:a", None)  # first draw collides: drawn again
    third = _deploy(store, "1.0", "sha256:a", None)
    assert (first, second, third) == ("abcd00000001", "abcd00000002", "abce00000003")
    with (
        pytest.raises(
            StateError, match="prefix 'abcd' is ambiguous: matches abcd00000002, abcd00000001"
        ) as err,
        store.read() as uow,
    ):
        uow.deployments.get("abcd")
    assert "\n" not in str(err.value)
    with store.read() as uow:
        found = uow.deployments.get("abce")
    assert found is not None and found.id == third
    with store.read() as uow:
        found = uow.deployments.get("ABCD00000002")
    assert found is not None and found.id == second


def test_list_deployments_newest_first_with_filters(store: StateStore, fake_clock: FakeClock) -> None:
    a = _deploy(store, "1.0", "sha256:a", "succeeded")
    fake_clock.advance(1)
    with store.write() as uow:
        b = uow.deployments.create(
            environment="staging", service=SVC, version="2.0", digest="sha256:b", actor="bob", kind="deploy"
        )
    fake_clock.advance(1)
    with store.write() as uow:
        c = uow.deployments.create(
            environment=ENV, service="api", version="3.0", digest="sha256:c", actor="bob", kind="deploy"
        )
    d = _deploy(store, "1.1", "sha256:d", None)  # same instant as c: insertion order decides
    with store.read() as uow:
        assert [r.id for r in uow.deployments.recent()] == [d, c, b, a]
        assert [r.id for r in uow.deployments.recent(environment=ENV)] == [d, c, a]
        assert [r.id for r in uow.deployments.recent(environment=ENV, service=SVC)] == [d, a]
        assert [r.id for r in uow.deployments.recent(service=SVC)] == [d, b, a]
        assert [r.id for r in uow.deployments.recent(limit=2)] == [d, c]


def test_current_deployment_is_newest_succeeded(store: StateStore, fake_clock: FakeClock) -> None:
    with store.read() as uow:
        assert uow.deployments.current(ENV, SVC) is None
    good = _deploy(store, "1.0", "sha256:a", "succeeded")
    fake_clock.advance(1)
    _deploy(store, "2.0", "sha256:b", "failed")
    fake_clock.advance(1)
    _deploy(store, "3.0", "sha256:c", None)  # still running
    with store.read() as uow:
        current = uow.deployments.current(ENV, SVC)
    assert current is not None and current.id == good
    fake_clock.advance(1)
    back = _deploy(store, "1.0", "sha256:a", "succeeded", kind="rollback")
    with store.read() as uow:
        current = uow.deployments.current(ENV, SVC)
    assert current is not None and current.id == back
    with store.read() as uow:
        assert uow.deployments.current("staging", SVC) is None


def test_last_known_good_skips_failed_quarantined_and_excluded(
    store: StateStore, fake_clock: FakeClock
) -> None:
    for version, digest in [
        ("1.0", "sha256:a"),
        ("2.0", "sha256:b"),
        ("3.0", "sha256:c"),
        ("4.0", "sha256:d"),
    ]:
        _save(store, version, digest)
    with store.read() as uow:
        assert uow.releases.last_known_good(ENV, SVC) is None
    _deploy(store, "1.0", "sha256:a", "succeeded")
    fake_clock.advance(1)
    _deploy(store, "2.0", "sha256:b", "succeeded")
    fake_clock.advance(1)
    _deploy(store, "3.0", "sha256:c", "succeeded")
    fake_clock.advance(1)
    _deploy(store, "4.0", "sha256:d", "failed")
    fake_clock.advance(1)
    _deploy(store, "4.0", "sha256:d", "rolled_back")

    def lkg(*exclude: str) -> str | None:
        with store.read() as uow:
            row = uow.releases.last_known_good(ENV, SVC, exclude_digests=exclude)
        return None if row is None else row.digest

    assert lkg() == "sha256:c"
    with store.write() as uow:
        uow.releases.quarantine(ENV, SVC, "sha256:c", reason="bad")
    assert lkg() == "sha256:b"
    assert lkg("sha256:b") == "sha256:a"
    assert lkg("sha256:b", "sha256:a") is None
    with store.write() as uow:
        uow.releases.unquarantine(ENV, SVC, "sha256:c")
    assert lkg() == "sha256:c"
    with store.read() as uow:
        full = uow.releases.last_known_good(ENV, SVC)
    assert full is not None and full.version == "3.0" and full.spec == {"version": "3.0"}
    with store.read() as uow:
        assert uow.releases.last_known_good("staging", SVC) is None


def test_approvals(store: StateStore, fake_clock: FakeClock) -> None:
    expires = fake_clock.now() + timedelta(hours=1)
    with store.write() as uow:
        first = uow.approvals.add(
            environment=ENV, service=SVC, version="1.0", digest="sha256:a", actor="carol", expires_at=expires
        )
    assert (first.actor, first.version, first.digest) == ("carol", "1.0", "sha256:a")
    assert first.created_at == fake_clock.now() and first.expires_at == expires
    fake_clock.advance(7200)
    with store.write() as uow:
        second = uow.approvals.add(
            environment=ENV,
            service=SVC,
            version="1.0",
            digest="sha256:a",
            actor="dave",
            expires_at=(fake_clock.now() + timedelta(minutes=5)).astimezone(timezone(timedelta(hours=2))),
        )
    assert second.expires_at.tzinfo is UTC
    assert second.expires_at == fake_clock.now() + timedelta(minutes=5)
    with store.write() as uow:
        uow.approvals.add(
            environment=ENV, service=SVC, version="2.0", digest="sha256:b", actor="carol", expires_at=expires
        )
    with store.read() as uow:
        found = uow.approvals.for_release(ENV, SVC, "sha256:a")
    assert [a.actor for a in found] == ["carol", "dave"]  # the expired one too
    assert found[0] == first
    assert first.id != second.id
    with store.read() as uow:
        assert uow.approvals.for_release(ENV, SVC, "sha256:zzz") == []
    with pytest.raises(StateError, match="timezone-aware"), store.write() as uow:
        uow.approvals.add(
            environment=ENV,
            service=SVC,
            version="1",
            digest="d",
            actor="x",
            expires_at=datetime(2030, 1, 1),
        )


def test_audit_log(store: StateStore, fake_clock: FakeClock) -> None:
    dep = _deploy(store, "1.0", "sha256:a", None)
    with store.write() as uow:
        uow.audit.record(
            actor="alice", action="deploy.start", environment=ENV, service=SVC, deployment_id=dep
        )
    fake_clock.advance(1)
    with store.write() as uow:
        uow.audit.record(
            actor="alice", action="deploy.verdict", deployment_id=dep, details={"ok": True, "n": [1, 2]}
        )
    fake_clock.advance(1)
    with store.write() as uow:
        uow.audit.record(actor="bob", action="config.check")
    with store.read() as uow:
        events = uow.audit.events()
    assert [e.action for e in events] == ["deploy.start", "deploy.verdict", "config.check"]
    assert events[0].details == {} and events[0].environment == ENV and events[0].service == SVC
    assert events[1].details == {"ok": True, "n": [1, 2]}
    assert events[2].deployment_id is None and events[2].environment is None
    assert events[0].at == datetime(2026, 1, 1, tzinfo=UTC) and events[2].at.tzinfo is UTC
    with store.read() as uow:
        assert [e.action for e in uow.audit.events(deployment_id=dep)] == ["deploy.start", "deploy.verdict"]
        assert [e.action for e in uow.audit.events(limit=2)] == ["deploy.verdict", "config.check"]


def test_reopen_keeps_everything(state_url: str, fake_clock: FakeClock) -> None:
    with StateStore.open(state_url, clock=fake_clock) as first:
        _save(first, "1.0", "sha256:a")
        dep = _deploy(first, "1.0", "sha256:a", "succeeded")
    with StateStore.open(state_url, clock=fake_clock) as second:
        with second.read() as uow:
            assert [r.digest for r in uow.releases.of_service(ENV, SVC)] == ["sha256:a"]
            current = uow.deployments.current(ENV, SVC)
        assert current is not None and current.id == dep
