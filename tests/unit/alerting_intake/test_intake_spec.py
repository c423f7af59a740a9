"""Intake parsers as data: every case in tests/spec/intake/*.json is one test."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tiation.alerting.intake import IntakeError, parse
from tiation.alerting.model import AlertEvent, fingerprint
from tiation.errors import AlertError

SPEC = Path(__file__).parents[2] / "spec" / "intake"
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _cases() -> list[Any]:
    out = []
    for path in sorted(SPEC.glob("*.json")):
        spec = json.loads(path.read_text())
        for case in spec["cases"]:
            out.append(pytest.param(spec, case, id=f"{spec['intake']}: {case['name']}"))
    return out


def _steps(path: str) -> list[str | int]:
    return [int(index) if index else name for name, index in _STEP.findall(path)]


def _walk(doc: Any, path: str) -> tuple[Any, str | int]:
    steps = _steps(path)
    for step in steps[:-1]:
        doc = doc[step]
    return doc, steps[-1]


def _body(spec: dict[str, Any], case: dict[str, Any]) -> Any:
    if "body" in case:
        return case["body"]
    body = copy.deepcopy(spec["base"])
    for path, value in case.get("set", {}).items():
        parent, key = _walk(body, path)
        parent[key] = value
    for path in case.get("delete", []):
        parent, key = _walk(body, path)
        del parent[key]
    return body


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _check_event(event: AlertEvent, expected: dict[str, Any]) -> None:
    for key, want in expected.items():
        if key == "identity":
            if want == "labels":
                assert event.dedup_key is None
                assert event.fingerprint == fingerprint(event.labels)
            else:
                assert event.dedup_key
                assert event.fingerprint != fingerprint(event.labels)
        elif key in ("starts_at", "ends_at"):
            assert _iso(getattr(event, key)) == want, key
        else:
            got = getattr(event, key)
            assert (dict(got) if isinstance(want, dict) else got) == want, key


@pytest.mark.parametrize(("spec", "case"), _cases())
def test_intake_case(spec: dict[str, Any], case: dict[str, Any]) -> None:
    body = _body(spec, case)
    if "error" in case:
        with pytest.raises(IntakeError) as caught:
            parse(spec["intake"], body)
        want = case["error"]
        assert isinstance(caught.value, AlertError)
        assert caught.value.field == want["field"]
        if "message" in want:
            assert str(caught.value) == want["message"]
        assert "\n" not in str(caught.value)
        return
    events = parse(spec["intake"], body)
    assert len(events) == len(case["events"])
    for event, expected in zip(events, case["events"], strict=True):
        assert event.source == spec["intake"]
        _check_event(event, expected)
    if case.get("distinct_identities"):
        assert len({e.fingerprint for e in events}) == len(events)


def test_every_intake_has_cases() -> None:
    assert {json.loads(p.read_text())["intake"] for p in SPEC.glob("*.json")} == {
        "alertmanager",
        "pagerduty",
        "generic",
    }


def test_unknown_intake_kind() -> None:
    with pytest.raises(IntakeError, match="unknown intake 'nagios'"):
        parse("nagios", {})
