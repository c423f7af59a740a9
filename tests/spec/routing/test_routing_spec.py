"""Routing as data: tests/spec/routing/cases.yaml drives the opening stages of the alert pipeline.

Each case gives an alert's labels, the moment it fires, stored silences and who is on call (facts in), and the
decisions and escalation plan the stages must produce (out): severity, route -> policy, silence (and until
when), and every planned step as `<step> +<offset from the alert>: <who is reached>`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tiation.alerting import pipeline as stages
from tiation.alerting.messages import deliveries
from tiation.config.alerting import Alerting, Silence, parse_instant
from tiation.config.durations import format_duration

SPEC = Path(__file__).parent / "cases.yaml"
DATA = YAML(typ="safe").load(SPEC.read_text())
CASES: list[dict[str, Any]] = DATA["cases"]


def _facts(case: dict[str, Any]) -> tuple[stages.Facts, dict[str, list[str]]]:
    cfg = Alerting.model_validate({**DATA["defaults"]["alerting"], **case.get("alerting", {})})
    labels = {str(k): str(v) for k, v in case["labels"].items()}
    at = parse_instant(str(case.get("at", DATA["defaults"]["at"])))
    stored = [
        (
            s["id"],
            Silence(
                match=s["match"], comment=s.get("comment", ""), starts_at=s["starts_at"], ends_at=s["ends_at"]
            ),
        )
        for s in case.get("stored", [])
    ]
    key = stages.group_key(labels, cfg.group_by)
    on_call = {**DATA["defaults"]["on_call"], **case.get("on_call", {})}
    return stages.Facts(labels, cfg, at, stored, key=key), on_call


def _plan(
    verdict: stages.Verdict, at: datetime, on_call: dict[str, list[str]]
) -> tuple[list[str], list[str]]:
    lines, notes = [], []
    for step in verdict.plan:
        found, said = deliveries(
            step.targets, step.due_at, lambda schedule, _at: list(on_call.get(schedule, []))
        )
        paged = (
            ", ".join(f"{d.person} via {d.notifier}" if d.person else d.notifier for d in found) or "nobody"
        )
        lines.append(
            f"{stages.step_label(step.step, step.repeat)} +{format_duration(step.due_at - at)}: {paged}"
        )
        notes.extend(said)
    return lines, notes


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_routing_case(case: dict[str, Any]) -> None:
    facts, on_call = _facts(case)
    verdict = stages.run(stages.OPENING, facts)
    by_stage = {d.stage: d for d in verdict.decisions}
    expect = case["expect"]
    assert [f"{d.stage}={d.outcome}" for d in verdict.decisions] == expect["decisions"]
    assert verdict.severity_name == expect["severity"]
    assert verdict.policy_name == expect.get("policy")
    until = verdict.silenced[1].isoformat() if verdict.silenced else None
    assert until == expect.get("silenced_until")
    for stage, fragment in expect.get("reasons", {}).items():
        assert fragment in by_stage[stage].reason, by_stage[stage]
    plan, notes = _plan(verdict, facts.at, on_call)
    assert plan == expect["plan"]
    if "notes" in expect:  # what the timeline says about schedules (who is on call, or nobody)
        assert notes == expect["notes"]


def test_every_stage_is_exercised_by_some_case() -> None:
    outcomes = {(c["name"], d) for c in CASES for d in c["expect"]["decisions"]}
    seen = {d for _, d in outcomes}
    assert {"route=none", "silence=silenced", "escalate=none", "escalate=planned"} <= seen
    assert len(CASES) >= 20
