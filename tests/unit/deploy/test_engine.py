"""The deploy engine against the scripted fake target and a real SQLite state store, in virtual time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tiation.clock import FakeClock
from tiation.config.loader import load_platform
from tiation.deploy.engine import Engine
from tiation.errors import DeployError, QuarantinedError, StateError
from tiation.state import StateStore
from tiation.state.audit import AuditLog
from tiation.targets.base import EventKind
from tiation.targets.fake import FakeScript, FakeTarget

PLATFORM = """\
version: 1
project: {name: shop}
environments:
  dev: {target: fake}
  prod: {target: fake, approval: required, approval_ttl: 1h}
services:
  db:
    port: 5000
    default_version: "1.0"
    health: {deadline: 10s, stable_for: 2s, probes: [{http: {path: /health}, interval: 500ms}]}
  api:
    port: 5001
    depends_on: [db]
    default_version: "1.0"
    health: {deadline: 10s, stable_for: 2s, probes: [{http: {path: /health}, interval: 500ms}]}
  web:
    port: 5002
    depends_on: [api]
    default_version: "1.0"
    health: {deadline: 10s, stable_for: 2s, probes: [{http: {path: /health}, interval: 500ms}]}
"""

SCRIPTS = {
    "exit": FakeScript(events=((0.3, EventKind.EXITED, 3),)),
    "never": FakeScript(healthy_after=None),
    "flaky": FakeScript(healthy_after=0.0, events=((1.5, EventKind.EXITED, 1),)),
    "degrades": FakeScript(healthy_after=0.0, unhealthy_after=1.0),
    "slow": FakeScript(healthy_after=4.0),
}


@pytest.fixture
def env(tmp_path: Path, fake_clock: FakeClock) -> Iterator[tuple[Engine, FakeTarget, FakeClock]]:
    path = tmp_path / "tiation.yaml"
    path.write_text(PLATFORM)
    loaded = load_platform(path)
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}", clock=fake_clock)
    targets: dict[str, FakeTarget] = {}

    def factory(name: str) -> FakeTarget:
        return targets.setdefault(name, FakeTarget(clock=fake_clock, scripts=SCRIPTS))

    engine = Engine(loaded=loaded, store=store, clock=fake_clock, actor="alice", targets=factory)
    try:
        yield engine, factory("dev"), fake_clock
    finally:
        store.close()


def deploy(
    engine: Engine, service: str, version: str | None, *, env: str = "dev", force: bool = False
) -> list:
    return engine.deploy(engine.plan(env, service, version, force=force))


def serving(target: FakeTarget, service: str) -> str | None:
    return target.observe(service).version


def test_healthy_deploy_is_kept_and_recorded(env) -> None:
    engine, target, _ = env
    [outcome] = deploy(engine, "db", "1.0")
    assert outcome.status == "succeeded"
    assert serving(target, "db") == "1.0"
    with engine.store.read() as uow:
        [row] = uow.deployments.recent(environment="dev", service="db")
    assert (row.status, row.kind, row.version) == ("succeeded", "deploy", "1.0")
    with engine.store.read() as uow:
        actions = [e.action for e in uow.audit.events()]
    assert actions[:2] == ["lock.acquire", "deploy.start"] and "deploy.succeeded" in actions
    with engine.store.read() as uow:
        assert uow.leases.all() == []


def test_exit_at_start_fails_fast_and_keeps_last_known_good(env) -> None:
    engine, target, clock = env
    deploy(engine, "db", "1.0")
    before = clock.monotonic()
    [outcome] = deploy(engine, "db", "exit")
    assert outcome.status == "failed"
    assert outcome.verdict == "process exited with code 3"
    assert clock.monotonic() - before < 1.0  # virtual time: decided within a few polls of the exit at 0.3 s
    assert outcome.rolled_back_to == "1.0"
    assert serving(target, "db") == "1.0"
    assert ("abort", "db", "exit") in target.calls
    with engine.store.read() as uow:
        failed = uow.deployments.get(outcome.deployment_id)
    assert failed is not None and failed.status == "failed"
    assert failed.evidence["code"] == "exited"
    assert failed.evidence["log_tail"] == ["fake log of exit"]
    with engine.store.read() as uow:
        back = uow.deployments.get(outcome.rollback_deployment_id)
    assert back is not None and back.kind == "auto-rollback" and back.parent_id == failed.id
    with engine.store.read() as uow:
        assert uow.releases.get("dev", "db", version="exit").quarantined


def test_never_healthy_fails_at_the_deadline(env) -> None:
    engine, _, clock = env
    deploy(engine, "db", "1.0")
    t0 = clock.monotonic()
    [outcome] = deploy(engine, "db", "never")
    assert outcome.status == "failed"
    assert outcome.verdict.startswith("not healthy within the 10s deadline")
    assert 10.0 <= clock.monotonic() - t0 < 11.0


def test_slow_but_healthy_within_deadline_is_kept(env) -> None:
    engine, target, _ = env
    [outcome] = deploy(engine, "db", "slow")
    assert outcome.status == "succeeded"
    assert serving(target, "db") == "slow"


def test_crash_during_stability_window_fails(env) -> None:
    engine, target, _ = env
    deploy(engine, "db", "1.0")
    [outcome] = deploy(engine, "db", "flaky")
    assert outcome.status == "failed" and outcome.verdict == "process exited with code 1"
    assert serving(target, "db") == "1.0"


def test_healthy_then_unhealthy_fails(env) -> None:
    engine, _, _ = env
    deploy(engine, "db", "1.0")
    [outcome] = deploy(engine, "db", "degrades")
    assert outcome.status == "failed"
    assert "passed, then failed 3 times in a row" in outcome.verdict


def test_first_deploy_failing_has_nothing_to_roll_back_to(env) -> None:
    engine, target, _ = env
    [outcome] = deploy(engine, "db", "exit")
    assert outcome.status == "failed" and outcome.rolled_back_to is None
    assert serving(target, "db") is None


def test_auto_rollback_restarts_last_known_good_when_it_is_not_serving(env) -> None:
    engine, target, _ = env
    deploy(engine, "db", "1.0")
    target.kill_serving("db")
    [outcome] = deploy(engine, "db", "exit")
    assert outcome.rolled_back_to == "1.0"
    assert target.calls[-2:] == [("apply", "db", "1.0"), ("promote", "db", "1.0")]
    assert serving(target, "db") == "1.0"


def test_rollback_skips_a_bad_n_minus_1(env) -> None:
    engine, target, _ = env
    deploy(engine, "db", "1.0")
    deploy(engine, "db", "exit")  # N-1 after the next deploy: bad, quarantined
    deploy(engine, "db", "2.0")
    assert serving(target, "db") == "2.0"
    outcome = engine.rollback("dev", "db", to_version=None)
    assert outcome.status == "succeeded" and outcome.version == "1.0"
    assert serving(target, "db") == "1.0"
    with engine.store.read() as uow:
        rows = uow.deployments.recent(environment="dev", service="db")
    assert rows[0].kind == "rollback" and rows[0].version == "1.0"


def test_rollback_to_a_named_version_and_quarantine(env) -> None:
    engine, _target, _ = env
    deploy(engine, "db", "1.0")
    deploy(engine, "db", "exit")
    with pytest.raises(QuarantinedError, match="quarantined"):
        engine.rollback("dev", "db", to_version="exit")
    with pytest.raises(DeployError, match="no earlier known-good release"):
        engine.rollback("dev", "db", to_version=None)
    outcome = engine.rollback("dev", "db", to_version="1.0")
    assert outcome.status == "succeeded"


def test_quarantined_release_needs_force(env) -> None:
    engine, _target, _ = env
    deploy(engine, "db", "1.0")
    deploy(engine, "db", "exit")
    plan = engine.plan("dev", "db", "exit")
    assert [s.action for s in plan.steps] == ["blocked"]
    assert "quarantined" in plan.steps[0].reasons[0] and "--force" in plan.steps[0].reasons[0]
    forced = engine.plan("dev", "db", "exit", force=True)
    assert [s.action for s in forced.steps] == ["deploy"]


def test_same_release_is_a_noop_unless_forced(env) -> None:
    engine, target, _ = env
    deploy(engine, "db", "1.0")
    [outcome] = deploy(engine, "db", "1.0")
    assert outcome.status == "noop"
    assert [c for c in target.calls if c[0] == "apply"] == [("apply", "db", "1.0")]
    [forced] = deploy(engine, "db", "1.0", force=True)
    assert forced.status == "succeeded"


def test_dry_run_plan_changes_nothing(env) -> None:
    engine, target, _ = env
    plan = engine.plan("dev", "all", None)
    assert [s.service for s in plan.steps] == ["db", "api", "web"]
    assert all(s.action == "deploy" for s in plan.steps)
    assert target.calls == []
    with engine.store.read() as uow:
        assert uow.deployments.recent() == []
        assert uow.releases.of_service("dev", "db") == []
        assert uow.audit.events() == []


def test_all_deploys_in_dependency_order_and_stops_at_first_failure(env) -> None:
    engine, target, _ = env
    outcomes = deploy(engine, "all", None)
    assert [(o.service, o.status) for o in outcomes] == [
        ("db", "succeeded"),
        ("api", "succeeded"),
        ("web", "succeeded"),
    ]
    outcomes = deploy(engine, "all", "exit")
    assert [(o.service, o.status) for o in outcomes] == [
        ("db", "failed"),
        ("api", "skipped"),
        ("web", "skipped"),
    ]
    assert [c for c in target.calls if c[0] == "apply" and c[2] == "exit"] == [("apply", "db", "exit")]


def test_unhealthy_dependency_blocks(env) -> None:
    engine, _, _ = env
    plan = engine.plan("dev", "api", "1.0")
    assert plan.steps[0].action == "blocked"
    assert plan.steps[0].reasons == ("dependency db is not healthy: not running",)


def test_approvals(env) -> None:
    engine, _, clock = env
    prod_target = engine.targets("prod")
    plan = engine.plan("prod", "db", "1.0")
    assert plan.steps[0].action == "blocked" and "requires an approval" in plan.steps[0].reasons[0]

    engine.approve("prod", "db", "1.0")  # by alice, the deployer
    plan = engine.plan("prod", "db", "1.0")
    assert "must come from someone else" in plan.steps[0].reasons[0]

    engine.actor = "bob"
    engine.approve("prod", "db", "1.0")
    engine.actor = "alice"
    plan = engine.plan("prod", "db", "1.0")
    assert plan.steps[0].action == "deploy"

    clock.advance(timedelta(hours=2).total_seconds())
    plan = engine.plan("prod", "db", "1.0")
    assert "expired" in plan.steps[0].reasons[0]

    engine.actor = "bob"
    engine.approve("prod", "db", "2.0")
    engine.actor = "alice"
    assert "requires an approval" in engine.plan("prod", "db", "1.1").steps[0].reasons[0]
    assert prod_target.calls == []


def test_approval_for_another_digest_is_refused(env, tmp_path: Path) -> None:
    engine, _, _ = env
    engine.actor = "bob"
    engine.approve("prod", "db", "1.0")
    engine.actor = "alice"
    # the config changes after the approval: same version, another release digest
    path = tmp_path / "tiation.yaml"
    path.write_text(PLATFORM.replace("port: 5000", "port: 5005"))
    engine.loaded = load_platform(path)
    plan = engine.plan("prod", "db", "1.0")
    assert plan.steps[0].action == "blocked"
    assert "not sha256:" in plan.steps[0].reasons[0] and "approve this release" in plan.steps[0].reasons[0]


def test_a_deploy_that_died_is_marked_interrupted_and_its_candidate_discarded(env) -> None:
    engine, target, _ = env
    deploy(engine, "db", "1.0")
    # a deploy process that died mid-verification left a running deployment and a candidate behind
    plan = engine.plan("dev", "db", "1.1")
    with engine.store.write() as uow:
        dead_id = uow.deployments.create(
            environment="dev",
            service="db",
            version="1.1",
            digest=plan.steps[0].release.digest,
            actor="bob",
            kind="deploy",
        )
    orphan = target.leave_candidate(plan.steps[0].release)
    [outcome] = deploy(engine, "db", "2.0")
    assert outcome.status == "succeeded"
    with engine.store.read() as uow:
        dead = uow.deployments.get(dead_id)
    assert dead is not None and dead.status == "aborted" and dead.verdict.startswith("interrupted")
    assert ("discard", "db", orphan) in target.calls
    old = next(i.id for i in target.observe("db").instances if i.version == "1.0")
    assert ("discard", "db", old) not in target.calls


def test_missing_secret_blocks_before_anything_starts_and_quarantines_nothing(
    env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, target, _ = env
    monkeypatch.delenv("SHOP_DB_PASSWORD", raising=False)
    path = tmp_path / "tiation.yaml"
    path.write_text(
        PLATFORM.replace("    port: 5000\n", "    port: 5000\n    env: {PGPASSWORD: env:SHOP_DB_PASSWORD}\n")
    )
    engine.loaded = load_platform(path)
    plan = engine.plan("dev", "db", "1.0")
    assert plan.steps[0].action == "blocked"
    assert plan.steps[0].reasons == (
        "env PGPASSWORD: secret env:SHOP_DB_PASSWORD is not set in the environment",
    )
    assert engine.deploy(plan)[0].status == "blocked"
    assert target.calls == []
    with engine.store.read() as uow:
        assert uow.releases.of_service("dev", "db") == []
    monkeypatch.setenv("SHOP_DB_PASSWORD", "pw-for-test")
    assert engine.plan("dev", "db", "1.0").steps[0].action == "deploy"


def test_a_deploy_result_is_not_recorded_without_its_audit_entry(
    env, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _, _ = env
    real_record = AuditLog.record

    def record(self: AuditLog, **kw: Any) -> None:
        if kw["action"] == "deploy.succeeded":
            raise OperationalError("INSERT INTO audit_events", {}, Exception("disk I/O error"))
        real_record(self, **kw)

    monkeypatch.setattr(AuditLog, "record", record)
    with pytest.raises(StateError, match="cannot finish a deployment: disk I/O error"):
        deploy(engine, "db", "1.0")
    with engine.store.read() as uow:
        [row] = uow.deployments.recent(environment="dev", service="db")
        actions = [e.action for e in uow.audit.events()]
    assert row.status == "running" and row.finished_at is None  # not "succeeded" without its audit entry
    assert "deploy.succeeded" not in actions and actions[-1] == "lock.release"
