"""The alert engine on a real SQLite state store and a fake clock: dedup, grouping, silences, routing,
escalation timers (exactly once, across restarts), acknowledge and resolve."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from fixtures.alerting_kit import T0, firing, make_service, resolved
from tiation.alerting.model import AlertEvent
from tiation.alerting.service import AlertService
from tiation.clock import FakeClock
from tiation.errors import AlertError
from tiation.state.alerts import AlertTx


def _outbox(svc: AlertService) -> list[tuple[str, str, str | None]]:
    with svc.store.read("t") as uow:
        tx = uow.alerts
        return [
            (o.notifier, o.payload["event"], (o.payload["recipient"] or {}).get("name"))
            for o in tx.list_outbox()
        ]


def _tx(svc: AlertService) -> AlertTx:
    return svc.store.read("t").__enter__().alerts


def _incidents(svc: AlertService) -> list[str]:
    with svc.store.read("t") as uow:
        tx = uow.alerts
        return [i.id for i in tx.list_incidents()]


def test_resends_of_a_firing_alert_never_page_again(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    first = svc.ingest([firing()])
    assert (first.new, first.duplicates) == (1, 0)
    svc.fire_due()
    before = _outbox(svc)
    clock = svc.clock
    assert isinstance(clock, FakeClock)
    for _ in range(10):  # Prometheus re-sends every minute
        clock.advance(60)
        again = svc.ingest([firing()])
        assert (again.new, again.duplicates) == (0, 1)
        assert again.incidents == first.incidents
    # steps due by then fire, but the re-sends themselves add nothing
    with svc.store.read("t") as uow:
        tx = uow.alerts
        (alert,) = tx.alerts_of(first.incidents[0])
        assert alert.received == 11
    assert _outbox(svc) == before == [("slack", "trigger", None), ("pager", "trigger", "Ann")]


def test_alerts_sharing_a_summary_but_not_labels_are_never_merged(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    result = svc.ingest([firing(service="cms"), firing(service="ai-agents"), firing(service="cms", pod="b")])
    assert result.new == 3 and result.duplicates == 0
    # group_by alertname+service: cms alerts share an incident, ai-agents has its own
    assert len(set(result.incidents)) == 2
    with svc.store.read("t") as uow:
        tx = uow.alerts
        cms = tx.get_incident(result.incidents[0])
        assert cms is not None
        assert len(tx.alerts_of(cms.id)) == 2
        assert len({a.fingerprint for a in tx.alerts_of(cms.id)}) == 2


def test_resolve_from_the_source_closes_only_when_every_alert_recovered(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    svc.ingest([firing(pod="a"), firing(pod="b")])
    svc.fire_due()
    svc.ingest([resolved(pod="a")])
    with svc.store.read("t") as uow:
        tx = uow.alerts
        (incident,) = tx.list_incidents()
        assert incident.state == "triggered"
    out = svc.ingest([resolved(pod="b")])
    assert out.resolved == 1
    with svc.store.read("t") as uow:
        tx = uow.alerts
        (incident,) = tx.list_incidents()
        assert incident.state == "resolved" and incident.resolved_by == "source"
        assert {s.state for s in tx.steps_of(incident.id)} == {"fired", "cancelled"}
    # the notifiers that were paged are told it is over
    assert ("pager", "resolve", "Ann") in _outbox(svc) and ("slack", "resolve", None) in _outbox(svc)


def test_a_trigger_after_resolve_opens_a_new_incident(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    first = svc.ingest([firing()]).incidents[0]
    svc.ingest([resolved()])
    again = svc.ingest([firing()])
    assert again.new == 1 and again.incidents[0] != first
    assert len(_incidents(svc)) == 2


def test_a_stale_resolve_is_ignored(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    out = svc.ingest([resolved()])
    assert out.duplicates == 1 and _incidents(svc) == []


def test_escalation_follows_the_plan_and_fires_each_step_once(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    svc = make_service(tmp_path, clock=clock)
    svc.ingest([firing()])
    assert svc.fire_due() == 2  # the severity channels, and step 1: Ann
    assert svc.fire_due() == 0
    clock.advance(15 * 60 - 1)
    assert svc.fire_due() == 0
    clock.advance(1)
    assert svc.fire_due() == 1  # step 2: Bob via pager and email
    assert _outbox(svc)[-2:] == [("pager", "escalate", "Bob"), ("email", "escalate", "Bob")]
    clock.advance(15 * 60)
    assert svc.fire_due() == 1  # round 2 starts again with Ann
    assert _outbox(svc)[-1] == ("pager", "repeat", "Ann")
    clock.advance(3600)
    assert svc.fire_due() == 1 and svc.fire_due() == 0  # the last step, and nothing after it
    assert svc.next_due() is None


def test_a_restarted_engine_catches_up_in_order_without_repeats(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    svc = make_service(tmp_path, clock=clock)
    incident = svc.ingest([firing()]).incidents[0]
    svc.fire_due()
    svc.store.close()  # the server goes down mid-escalation …
    clock.advance(40 * 60)  # … and comes back after steps 2 and 3 fell due
    restarted = make_service(tmp_path, clock=clock)
    assert restarted.fire_due() == 2
    with restarted.store.read("t") as uow:
        tx = uow.alerts
        steps = tx.steps_of(incident)
        fired = [(s.ordinal, s.state) for s in steps]
        timeline = [
            e.reason for e in tx.timeline(incident) if e.stage == "escalate" and e.outcome != "planned"
        ]
    assert fired == [(0, "fired"), (1, "fired"), (2, "fired"), (3, "fired"), (4, "pending")]
    assert [r.split(":")[0] for r in timeline] == [
        "channels",
        "step 1 round 1",
        "step 2 round 1",
        "step 1 round 2",
    ]
    assert restarted.fire_due() == 0


def test_two_engines_racing_fire_each_step_exactly_once(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    a = make_service(tmp_path, clock=clock)
    b = make_service(tmp_path, clock=clock)
    incidents = [a.ingest([firing(service=f"s{i}")]).incidents[0] for i in range(20)]
    clock.advance(3600)
    counts: list[int] = []
    threads = [threading.Thread(target=lambda s=s: counts.append(s.fire_due())) for s in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 20 * 5  # the channels and every step of every incident, once
    with a.store.read("t") as uow:
        tx = uow.alerts
        for incident in incidents:
            fired = [e for e in tx.timeline(incident) if e.stage == "escalate" and e.outcome != "planned"]
            assert len(fired) == 5


def test_acknowledge_stops_escalation_and_tells_whoever_was_paged(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    svc = make_service(tmp_path, clock=clock)
    incident = svc.ingest([firing()]).incidents[0]
    svc.fire_due()
    svc.acknowledge(incident[:6], actor="ann")
    clock.advance(3600)
    assert svc.fire_due() == 0
    assert _outbox(svc)[-2:] == [("slack", "acknowledge", None), ("pager", "acknowledge", "Ann")]
    with pytest.raises(AlertError, match="only a triggered one"):
        svc.acknowledge(incident, actor="ann")
    svc.resolve(incident, actor="ann")
    with pytest.raises(AlertError, match="already resolved"):
        svc.resolve(incident, actor="ann")
    with pytest.raises(AlertError, match="no incident"):
        svc.acknowledge("nope", actor="ann")
    with svc.store.read() as uow:
        actions = [e.action for e in uow.audit.events()]
    assert "alerts.ack" in actions and "alerts.resolve" in actions


def test_a_source_acknowledge_acknowledges_the_incident(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    event = AlertEvent("pagerduty", "firing", {"alertname": "Disk", "service": "db"}, dedup_key="disk-1")
    incident = svc.ingest([event]).incidents[0]
    ack = AlertEvent("pagerduty", "acknowledged", {}, dedup_key="disk-1")
    assert svc.ingest([ack]).acknowledged == 1
    with svc.store.read("t") as uow:
        tx = uow.alerts
        assert tx.incidents_by_id([incident])[incident].state == "acknowledged"


def test_routes_pick_the_policy_and_step_waits_override_the_severity_delay(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    svc = make_service(tmp_path, clock=clock)
    incident = svc.ingest([firing(severity="critical")]).incidents[0]
    with svc.store.read("t") as uow:
        tx = uow.alerts
        assert tx.incidents_by_id([incident])[incident].policy == "quick"
        steps = tx.steps_of(incident)
    assert [(s.step, s.due_at - T0) for s in steps] == [
        (-1, timedelta(0)),
        (0, timedelta(0)),
        (1, timedelta(minutes=1)),
    ]


def test_info_severity_tells_its_channels_and_never_pages(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    incident = svc.ingest([firing(severity="info")]).incidents[0]
    assert svc.fire_due() == 1
    with svc.store.read("t") as uow:
        tx = uow.alerts
        assert [s.step for s in tx.steps_of(incident)] == [-1]
    assert _outbox(svc) == [("slack", "trigger", None)]


def test_a_maintenance_window_in_its_own_zone_delays_escalation_to_its_end(tmp_path: Path) -> None:
    # Sunday 2026-11-29 02:30 in Berlin is 01:30 UTC; the window closes at 04:00 Berlin = 03:00 UTC
    clock = FakeClock(T0.replace(day=29, hour=1, minute=30))
    svc = make_service(tmp_path, clock=clock)
    out = svc.ingest([firing("MaintenanceReindex")])
    assert out.silenced == 1 and out.new == 0
    assert svc.fire_due() == 0
    clock.advance(3600)
    assert svc.fire_due() == 0 and _outbox(svc) == []
    with svc.store.read("t") as uow:
        tx = uow.alerts
        (incident,) = tx.list_incidents()
        assert incident.silenced
        assert any("weekly maintenance" in e.reason for e in tx.timeline(incident.id))
        assert tx.steps_of(incident.id)[0].due_at == T0.replace(day=29, hour=3, minute=0)
    clock.advance(1800)  # 03:00 UTC: the window is over and the alert still fires: now it pages
    assert svc.fire_due() == 2
    assert _outbox(svc) == [("slack", "trigger", None), ("pager", "trigger", "Ann")]


def test_a_silence_added_after_the_incident_opened_postpones_its_steps(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    svc = make_service(tmp_path, clock=clock)
    incident = svc.ingest([firing()]).incidents[0]
    assert svc.fire_due() == 2
    with svc.store.write("t") as uow:
        tx = uow.alerts
        tx.add_silence({"alertname": "High.*"}, T0, T0 + timedelta(hours=2), "known issue", "ann", T0)
    clock.advance(15 * 60)
    assert svc.fire_due() == 0  # step 2 was due, but the silence moves it (and the rest) to its end
    with svc.store.read("t") as uow:
        tx = uow.alerts
        pending = [s.due_at - T0 for s in tx.steps_of(incident) if s.state == "pending"]
        assert any(e.outcome == "postponed" for e in tx.timeline(incident))
    assert pending == [timedelta(hours=2), timedelta(hours=2, minutes=15), timedelta(hours=2, minutes=30)]
    clock.advance(105 * 60)  # T0 + 2h: the silence is over
    assert svc.fire_due() == 1


def test_a_stored_silence_applies_until_it_ends(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    svc = make_service(tmp_path, clock=clock)
    with svc.store.write("t") as uow:
        tx = uow.alerts
        tx.add_silence({"service": "cms"}, T0, T0 + timedelta(hours=1), "deploy", "ann", T0)
    assert svc.ingest([firing()]).silenced == 1
    svc.ingest([resolved()])
    clock.advance(3601)
    assert svc.ingest([firing()]).new == 1


def test_an_incident_knows_the_deploy_that_preceded_it(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    svc = make_service(tmp_path, clock=clock)
    with svc.store.write() as uow:
        deployment = uow.deployments.create(
            environment="production",
            service="cms",
            version="1.3.0",
            digest="sha256:x",
            kind="deploy",
            actor="ann",
        )
    clock.advance(240)
    incident = svc.ingest([firing(environment="production")]).incidents[0]
    with svc.store.read("t") as uow:
        tx = uow.alerts
        row = tx.incidents_by_id([incident])[incident]
        notes = [e.reason for e in tx.timeline(incident) if e.stage == "context"]
    assert row.deployment_id == deployment
    assert notes == [f"preceded by deploy {deployment}: cms 1.3.0 to production (running), 4m earlier"]


def test_group_commit_answers_each_request_with_its_own_counts(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    first, second, third = svc.ingest_groups([[firing(), firing(pod="a")], [firing()], [resolved(pod="zz")]])
    assert (first.received, first.new, first.duplicates) == (2, 2, 0)
    assert (second.received, second.new, second.duplicates) == (1, 0, 1)  # sees the first request's alert
    assert (third.received, third.duplicates) == (1, 1)
    assert second.incidents == first.incidents
