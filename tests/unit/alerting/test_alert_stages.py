"""The pipeline as a list of stages: halting, order, a stage added by one line; silences through the service."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from fixtures.alerting_kit import T0, firing, make_service
from tiation.alerting import pipeline as stages
from tiation.alerting.silence_service import SilenceService
from tiation.errors import UsageError


def _facts(tmp_path: Path, **kw: object) -> stages.Facts:
    svc = make_service(tmp_path)
    event = firing(severity="critical")
    key = stages.group_key(event.labels, svc.cfg.group_by)
    return stages.Facts(event.labels, svc.cfg, T0, event=event, key=key, **kw)  # type: ignore[arg-type]


def test_a_new_alert_goes_through_every_stage_in_order(tmp_path: Path) -> None:
    verdict = stages.run(stages.PIPELINE, _facts(tmp_path))
    assert [(d.stage, d.outcome) for d in verdict.decisions] == [
        ("dedup", "new"),
        ("group", "open"),
        ("severity", "critical"),
        ("route", "quick"),
        ("escalate", "planned"),
    ]
    assert not verdict.halted and verdict.policy_name == "quick" and len(verdict.plan) == 3


def test_a_duplicate_halts_at_dedup_and_a_joining_alert_at_group(tmp_path: Path) -> None:
    firing_known = stages.KnownAlert("firing", "i1", incident_open=True)
    duplicate = stages.run(stages.PIPELINE, _facts(tmp_path, known=firing_known))
    assert [d.outcome for d in duplicate.decisions] == ["duplicate"] and duplicate.halted
    joins = stages.run(stages.PIPELINE, _facts(tmp_path, open_incident="i9"))
    assert [d.outcome for d in joins.decisions] == ["new", "join"] and joins.plan == ()


def test_a_new_stage_is_one_function_and_one_line(tmp_path: Path) -> None:
    def inhibit(facts: stages.Facts, verdict: stages.Verdict) -> stages.Verdict:
        decision = stages.Decision("inhibit", "inhibited", "a cluster-wide outage already pages")
        return verdict.record(decision, halted=facts.labels.get("service") == "cms")

    pipeline = (*stages.PIPELINE[:2], inhibit, *stages.PIPELINE[2:])
    verdict = stages.run(pipeline, _facts(tmp_path))
    assert [d.stage for d in verdict.decisions] == ["dedup", "group", "inhibit"] and verdict.plan == ()


def test_escalation_does_not_import_the_service() -> None:
    code = "import sys, tiation.alerting.escalation; print('tiation.alerting.service' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_silences_are_added_listed_applied_and_expired_through_the_service(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    silences = SilenceService(svc.store, svc.clock)
    silence_id = silences.add({"service": "cms"}, T0, timedelta(hours=1), "deploy window", actor="ann")
    assert [(r.id, r.matchers, r.comment, r.actor) for r in silences.rows()] == [
        (silence_id, {"service": "cms"}, "deploy window", "ann")
    ]
    assert [i for i, _ in silences.active_at(T0)] == [silence_id]
    assert svc.ingest([firing()]).silenced == 1
    silences.expire(silence_id, actor="bob")
    assert silences.active_at(svc.clock.now()) == []
    with svc.store.read() as uow:
        audit = [(e.action, e.actor) for e in uow.audit.events()]
    assert ("alerts.silence.add", "ann") in audit and ("alerts.silence.expire", "bob") in audit


@pytest.mark.parametrize(
    ("matchers", "length", "message"),
    [
        ({"service": "("}, timedelta(hours=1), "matchers: service: not a regular expression"),
        ({}, timedelta(hours=1), "matchers: a silence needs at least one NAME=REGEX matcher"),
        ({"service": "cms"}, timedelta(0), "a silence must last longer than 0s"),
    ],
)
def test_a_bad_silence_is_refused_before_anything_is_stored(
    tmp_path: Path, matchers: dict[str, str], length: timedelta, message: str
) -> None:
    svc = make_service(tmp_path)
    silences = SilenceService(svc.store, svc.clock)
    with pytest.raises(UsageError, match=message):
        silences.add(matchers, T0, length, "x", actor="ann")
    assert silences.rows() == []
    with svc.store.read() as uow:
        assert uow.audit.events() == []


def test_expiring_a_silence_that_is_not_in_force_is_an_error(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    with pytest.raises(UsageError, match=r"no silence #5 in force"):
        SilenceService(svc.store, svc.clock).expire(5, actor="ann")
    with svc.store.read() as uow:
        assert uow.audit.events() == []
