"""The verdict as data: tests/spec/verdict/cases.yaml drives `decide`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tiation.deploy.health import ProbeResult
from tiation.deploy.verdict import Policy, ProbeRule, decide
from tiation.targets.base import EventKind, TargetEvent

SPEC = Path(__file__).parents[2] / "spec" / "verdict" / "cases.yaml"
DATA = YAML(typ="safe").load(SPEC.read_text())
AT = datetime(2026, 1, 1, tzinfo=UTC)


def _policy(raw: dict[str, Any]) -> Policy:
    rules = tuple(
        ProbeRule(p["name"], p.get("success_threshold", 1), p.get("failure_threshold", 3))
        for p in raw["probes"]
    )
    return Policy(rules, deadline=raw["deadline"], stable_for=raw["stable_for"])


@pytest.mark.parametrize("case", DATA["cases"], ids=[c["name"] for c in DATA["cases"]])
def test_verdict_case(case: dict[str, Any]) -> None:
    policy = _policy(case.get("policy", DATA["defaults"]["policy"]))
    events = [
        TargetEvent(EventKind(e["kind"]), AT, detail=e.get("detail", ""), exit_code=e.get("exit_code"))
        for e in case.get("events", [])
    ]
    results: dict[str, list[ProbeResult]] = {}
    times: dict[str, list[float]] = {}
    for name, seq in case.get("probes", {}).items():
        for t, outcome in seq:
            ok = outcome == "ok"
            detail = "status 200" if ok else outcome.removeprefix("fail:")
            results.setdefault(name, []).append(ProbeResult(name, ok, detail, 0.01, AT))
            times.setdefault(name, []).append(float(t))
    verdict = decide(policy, elapsed=case["elapsed"], events=events, results=results, result_times=times)
    expect = case["expect"]
    assert verdict.status == expect["status"], verdict
    if "code" in expect:
        assert getattr(verdict, "code", None) == expect["code"], verdict
    if "reason" in expect:
        text = getattr(verdict, "reason", None) or getattr(verdict, "waiting_for", "")
        assert expect["reason"] in text, verdict


def test_decide_is_pure() -> None:
    policy = Policy((ProbeRule("http"),), deadline=5, stable_for=1)
    results = {"http": [ProbeResult("http", True, "ok", 0.0, AT)]}
    times = {"http": [0.5]}
    first = decide(policy, elapsed=2, events=[], results=results, result_times=times)
    second = decide(policy, elapsed=2, events=[], results=results, result_times=times)
    assert first == second
    assert first.status == "healthy"
