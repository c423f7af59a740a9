"""The deploy planner as data: tests/spec/plan/cases.yaml drives `plan_deploy` (facts in, plan out)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tiation.config.graph import deploy_order
from tiation.config.models import Platform
from tiation.deploy.plan import ApprovalFact, PlanOptions, ServiceFacts, plan_deploy
from tiation.targets.base import Endpoint, Instance, Observed, Release

SPEC = Path(__file__).parents[2] / "spec" / "plan" / "cases.yaml"
DATA = YAML(typ="safe").load(SPEC.read_text())
OTHER = "sha256:" + "0" * 64
ENV = DATA["defaults"]["environment"]
NOW = datetime.fromisoformat(DATA["defaults"]["now"])


def _releases(case: dict[str, Any]) -> list[Release]:
    releases = [
        Release(
            ENV,
            r["service"],
            str(r["version"]),
            ("app", "--port", "{port}"),
            8000,
            config={"c": r.get("config", "")},
        )
        for r in case["releases"]
    ]
    if case.get("order") == "all":
        services = {
            name: {"port": 8000 + i, "depends_on": deps}
            for i, (name, deps) in enumerate(case["services"].items())
        }
        platform = Platform.model_validate(
            {"project": {"name": "spec"}, "environments": {ENV: {"target": "fake"}}, "services": services}
        )
        by_name = {r.service: r for r in releases}
        releases = [by_name[s] for s in deploy_order(platform, by_name)]
    return releases


def _facts(release: Release, raw: dict[str, Any]) -> ServiceFacts:
    serving = None
    if "serving" in raw:
        s = raw["serving"]
        digest = release.digest if s["digest"] == "same" else OTHER
        serving = Instance(
            "i-1", str(s["version"]), digest, s.get("state", "running"), Endpoint("127.0.0.1", 1)
        )
    approvals = [
        ApprovalFact(
            a["actor"],
            release.digest if a["digest"] == "same" else OTHER,
            NOW + timedelta(seconds=a["expires_in"]),
        )
        for a in raw.get("approvals", [])
    ]
    down = bool(raw.get("serving", {}).get("proxy") == "down")
    return ServiceFacts(
        observed=Observed(release.service, serving, (serving,) if serving else (), proxy_down=down),
        quarantined=raw.get("quarantined"),
        approvals=approvals,
        dependencies_unhealthy=raw.get("unhealthy", {}),
        unresolved_secrets=raw.get("secrets", []),
        target_problems=raw.get("prechecks", []),
    )


@pytest.mark.parametrize("case", DATA["cases"], ids=[c["name"] for c in DATA["cases"]])
def test_plan_case(case: dict[str, Any]) -> None:
    releases = _releases(case)
    raw_facts = case.get("facts", {})
    facts = {r.service: _facts(r, raw_facts.get(r.service, {})) for r in releases}
    opts = {**DATA["defaults"]["options"], **case.get("options", {})}
    plan = plan_deploy(ENV, releases, facts, PlanOptions(now=NOW, **opts))
    by_name = {r.service: r for r in releases}
    expected = [
        {
            "service": step["service"],
            "action": step["action"],
            "from": step["from"],
            "reasons": [
                text.format(digest=by_name[step["service"]].digest[:19], other=OTHER[:19])
                for text in step["reasons"]
            ],
        }
        for step in case["expect"]
    ]
    got = [
        {"service": s.service, "action": s.action, "from": s.from_version, "reasons": list(s.reasons)}
        for s in plan.steps
    ]
    assert got == expected
    assert all(s.release is by_name[s.service] for s in plan.steps)


def test_there_are_enough_cases() -> None:
    assert len(DATA["cases"]) >= 20
    assert len({c["name"] for c in DATA["cases"]}) == len(DATA["cases"])
