"""Retention as data: tests/spec/retention/cases.yaml drives `decide_retention`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tiation.backup.retention import BackupFacts, RetentionPolicy, decide_retention
from tiation.errors import ConfigError

SPEC = Path(__file__).parents[2] / "spec" / "retention" / "cases.yaml"
DATA = YAML(typ="safe").load(SPEC.read_text())
UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def _duration(text: str) -> timedelta:
    return timedelta(seconds=float(text[:-1]) * UNITS[text[-1]])


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _policy(raw: dict[str, Any]) -> RetentionPolicy:
    fields = dict(raw)
    if "max_age" in fields:
        fields["max_age"] = _duration(fields["max_age"])
    return RetentionPolicy(**fields)


def _backups(case: dict[str, Any]) -> list[BackupFacts]:
    out = [
        BackupFacts(b["id"], _time(b["at"]), b.get("verified", True), pinned=b.get("pinned", False))
        for b in case.get("backups", [])
    ]
    for series in case.get("series", []):
        start, every = _time(series["from"]), _duration(series["every"])
        for i in range(series["count"]):
            out.append(BackupFacts(f"{series['prefix']}{i + 1:02d}", start + i * every, True))
    return out


@pytest.mark.parametrize("case", DATA["cases"], ids=[c["name"] for c in DATA["cases"]])
def test_retention_case(case: dict[str, Any]) -> None:
    backups = _backups(case)
    policy = _policy(case.get("policy", {}))
    now = _time(case.get("now", DATA["defaults"]["now"]))
    decision = decide_retention(backups, policy, now=now, force=case.get("force", False))
    expect = case["expect"]

    keep = {k: list(v) for k, v in expect["keep"].items()}
    delete = dict(expect.get("delete", {}))
    rest = [b.id for b in backups if b.id not in keep and b.id not in delete]
    if "keep_rest" in expect:
        keep.update({i: list(expect["keep_rest"]) for i in rest})
    if "delete_rest" in expect:
        delete.update(dict.fromkeys(rest, expect["delete_rest"]))

    assert {k: list(v) for k, v in decision.keep.items()} == keep, decision
    assert decision.delete == delete, decision
    if "refused" in expect:
        assert decision.refused is not None and expect["refused"] in decision.refused, decision
    else:
        assert decision.refused is None, decision
    # Input order never matters.
    assert decide_retention(backups[::-1], policy, now=now, force=case.get("force", False)) == decision


@pytest.mark.parametrize(
    "case", DATA["invalid_policies"], ids=[f"{c['field']}={c['policy']}" for c in DATA["invalid_policies"]]
)
def test_invalid_policy(case: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        _policy(case["policy"])
    assert caught.value.field == case["field"]
    assert str(caught.value).startswith(f"{case['field']}: ")
    assert "\n" not in str(caught.value)


def test_duplicate_ids_are_a_bug() -> None:
    at = datetime(2026, 11, 30, tzinfo=UTC)
    twice = [BackupFacts("a", at, True), BackupFacts("a", at - timedelta(days=1), True)]
    with pytest.raises(ValueError, match="'a' appears more than once"):
        decide_retention(twice, RetentionPolicy(), now=at)


def test_naive_times_are_a_bug() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        BackupFacts("a", datetime(2026, 11, 30), True)
    with pytest.raises(ValueError, match="timezone-aware"):
        decide_retention([], RetentionPolicy(), now=datetime(2026, 11, 30))


def test_every_spec_case_has_a_unique_name() -> None:
    names = [c["name"] for c in DATA["cases"]]
    assert len(names) == len(set(names))
    assert len(names) >= 20
