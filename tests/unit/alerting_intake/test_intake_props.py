"""Properties of every intake: identity comes from labels (or an explicit key), never from the summary;
no error message repeats anything from the request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tiation.alerting.intake import IntakeError, parse, parse_alertmanager, parse_generic, parse_pagerduty
from tiation.alerting.model import fingerprint

SPEC = Path(__file__).parents[2] / "spec" / "intake"
BASES = {p.stem: json.loads(p.read_text())["base"] for p in SPEC.glob("*.json")}
MARK = "PLANTED-c0ffee"

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
label_sets = st.dictionaries(names, values, min_size=1, max_size=6)


@given(labels=label_sets, first=values, second=values)
def test_generic_identity_is_the_labels_not_the_summary(
    labels: dict[str, str], first: str, second: str
) -> None:
    a, b = parse_generic(
        {
            "alerts": [
                {"labels": labels, "annotations": {"summary": first}},
                {"labels": labels, "annotations": {"summary": second}},
            ]
        }
    )
    assert a.fingerprint == b.fingerprint == fingerprint(labels)


@given(labels=label_sets, extra=names, value=values)
def test_alertmanager_alerts_differing_in_a_label_are_two_alerts(
    labels: dict[str, str], extra: str, value: str
) -> None:
    other = {**labels, extra: value + "x"} if labels.get(extra) != value + "x" else {**labels, extra: value}
    body = {
        "version": "4",
        "status": "firing",
        "receiver": "r",
        "alerts": [
            {"status": "firing", "labels": labels, "annotations": {"summary": "same"}},
            {"status": "firing", "labels": other, "annotations": {"summary": "same"}},
        ],
    }
    a, b = parse_alertmanager(body)
    assert a.fingerprint != b.fingerprint


@given(first=values, second=values, source=names)
def test_pagerduty_summary_never_changes_identity(first: str, second: str, source: str) -> None:
    def event(summary: str) -> dict[str, Any]:
        return {
            "routing_key": "r",
            "event_action": "trigger",
            "payload": {"summary": summary, "source": source, "severity": "warning", "class": "disk"},
        }

    (a,), (b,) = parse_pagerduty(event(first)), parse_pagerduty(event(second))
    assert a.fingerprint == b.fingerprint
    assert a.annotations["summary"] == first


def test_pagerduty_events_differing_in_source_are_two_alerts() -> None:
    base = {"routing_key": "r", "event_action": "trigger"}
    (a,) = parse_pagerduty({**base, "payload": {"summary": "s", "source": "web-1", "severity": "info"}})
    (b,) = parse_pagerduty({**base, "payload": {"summary": "s", "source": "web-2", "severity": "info"}})
    assert a.fingerprint != b.fingerprint


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out += _paths(value, (*prefix, index))
    return out


def _planted(kind: str, path: tuple[Any, ...], how: int) -> Any:
    body = json.loads(json.dumps(BASES[kind]))
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    wrong: list[Any] = [
        MARK,
        [MARK],
        {MARK: MARK},
        {MARK: 1},
        12345.5,
        {"labels": {MARK: [MARK]}},
    ]
    if how == len(wrong):  # an unknown key named by the sender, beside the value
        if isinstance(parent, dict):
            parent[MARK] = MARK
        return body
    parent[path[-1]] = wrong[how]
    return body


@settings(max_examples=300)
@given(data=st.data())
def test_error_messages_never_repeat_the_request(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(sorted(BASES)))
    path = data.draw(st.sampled_from(_paths(BASES[kind])))
    how = data.draw(st.integers(min_value=0, max_value=6))
    body = _planted(kind, path, how)
    try:
        parse(kind, body)
    except IntakeError as exc:
        assert MARK not in str(exc)
        assert exc.field is None or MARK not in exc.field
