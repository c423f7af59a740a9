"""Rendering `alerting.rules`: rule files, generated promtool tests, explicit tests, rules left untested."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from ruamel.yaml import YAML

from tiation.config.rules import Rule, RuleGroup
from tiation.render.prometheus import MARKER, derived_test, render_prometheus


def _group(name: str = "g", interval: str | None = None, **rules: dict[str, Any]) -> RuleGroup:
    data: dict[str, Any] = {
        "name": name,
        "rules": [{"alert": alert, "labels": {"severity": "warning"}, **r} for alert, r in rules.items()],
    }
    if interval:
        data["interval"] = interval
    return RuleGroup.model_validate(data)


def _yaml(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


def _files(groups: list[RuleGroup]) -> dict[str, Any]:
    return {f.name: _yaml(f.content) for f in render_prometheus(groups, source="tiation.yaml").files}


def test_one_rule_file_and_one_test_file_per_group() -> None:
    result = render_prometheus(
        [_group("a", HighCPU={"expr": "cpu > 80", "for": "5m"}), _group("b", Down={"expr": "up == 0"})],
        source="platform.yaml",
    )
    assert [(f.name, f.role, f.group) for f in result.files] == [
        ("a.rules.yml", "rules", "a"),
        ("a.test.yml", "tests", "a"),
        ("b.rules.yml", "rules", "b"),
        ("b.test.yml", "tests", "b"),
    ]
    assert all(f.content.startswith(f"# {MARKER} from platform.yaml") for f in result.files)
    assert (result.generated_tests, result.explicit_tests, result.untested) == (2, 0, [])


def test_the_rule_file_is_prometheus_rule_format() -> None:
    group = _group(
        "system-health",
        "30s",
        HighCPU={
            "expr": "cpu_usage_percent > 80\n",
            "for": "1h30m",
            "labels": {"severity": "warning", "team": "ops"},
            "annotations": {"summary": "High CPU", "description": "above 80%"},
        },
        Instant={"expr": "up == 0", "for": "0s"},
    )
    assert _files([group])["system-health.rules.yml"] == {
        "groups": [
            {
                "name": "system-health",
                "interval": "30s",
                "rules": [
                    {
                        "alert": "HighCPU",
                        "expr": "cpu_usage_percent > 80",
                        "for": "1h30m",
                        "labels": {"severity": "warning", "team": "ops"},
                        "annotations": {"summary": "High CPU", "description": "above 80%"},
                    },
                    {"alert": "Instant", "expr": "up == 0", "labels": {"severity": "warning"}},
                ],
            }
        ]
    }


def test_a_derived_test_is_quiet_at_the_threshold_pending_within_for_and_firing_after() -> None:
    rule = Rule.model_validate(
        {
            "alert": "DiskSpaceLow",
            "expr": 'disk_free_percent{mount=~"/|/data"} < 20',
            "for": "2m",
            "labels": {"severity": "critical", "where": "{{ $labels.mount }}"},
            "annotations": {"summary": "{{ $labels.mount }} has {{ $value }}% free"},
        }
    )
    test = derived_test(rule, timedelta(seconds=45))
    assert test["interval"] == "15s"  # samples on every evaluation, at most a minute apart
    assert test["input_series"] == [{"series": 'disk_free_percent{mount="/"}', "values": "20x8 18x10"}]
    # 0s, 45s and 1m30s see 20 (9 samples); 2m15s is the first to see 18; `for: 2m` -> fires 3 x 45s later,
    # at 4m30s (18 sampled from 2m15s to 4m45s: 11 samples)
    assert test["alert_rule_test"] == [
        {"eval_time": "1m30s", "alertname": "DiskSpaceLow", "exp_alerts": []},
        {"eval_time": "3m45s", "alertname": "DiskSpaceLow", "exp_alerts": []},
        {
            "eval_time": "4m30s",
            "alertname": "DiskSpaceLow",
            "exp_alerts": [
                {
                    "exp_labels": {"mount": "/", "severity": "critical", "where": "/"},
                    "exp_annotations": {"summary": "/ has 18% free"},
                }
            ],
        },
    ]


def test_a_rule_without_for_fires_on_the_first_evaluation_past_the_threshold() -> None:
    rule = Rule.model_validate({"alert": "Down", "expr": "up == 0", "labels": {"severity": "critical"}})
    checks = derived_test(rule, timedelta(minutes=1))["alert_rule_test"]
    assert [c["eval_time"] for c in checks] == ["2m", "3m"]
    assert checks[1]["exp_alerts"] == [{"exp_labels": {"severity": "critical"}}]


def test_rules_that_cannot_be_derived_are_listed_with_the_reason() -> None:
    group = _group(
        "g",
        Ratio={"expr": "sum(rate(e[5m])) / sum(rate(t[5m])) > 0.05"},
        Humanized={"expr": "x > 1", "annotations": {"summary": "{{ $value | humanize }}"}},
        Twice={"expr": "x > 1"},
    )
    twice = group.rules[2].model_copy()
    group = group.model_copy(update={"rules": [*group.rules, twice]})
    result = render_prometheus([group], source="tiation.yaml")
    assert [(u.group, u.alert) for u in result.untested] == [
        ("g", "Ratio"),
        ("g", "Humanized"),
        ("g", "Twice"),
        ("g", "Twice"),
    ]
    reasons = [u.reason for u in result.untested]
    assert reasons[0] == "expr is not '<selector> <op> <number>'"
    assert "more than a plain value or label" in reasons[1]
    assert reasons[2] == "its alert name is shared with another rule of the group"
    assert [f.name for f in result.files] == ["g.rules.yml"]  # no test file without tests


def test_explicit_tests_are_rendered_and_cover_the_rule() -> None:
    group = _group(
        "app",
        HighErrorRate={
            "expr": "sum(rate(e[5m])) / sum(rate(t[5m])) > 0.05",
            "for": "2m",
            "labels": {"severity": "critical", "who": "{{ $labels.team }}"},
            "annotations": {"summary": "errors"},
            "tests": [
                {
                    "name": "fires",
                    "interval": "30s",
                    "series": [{"series": 'e{team="a"}', "values": "0+10x20"}],
                    "expect": [
                        {"at": "1m", "firing": False},
                        {"at": "5m", "firing": True, "labels": {"who": "a", "team": "a"}},
                    ],
                },
                {
                    "series": [{"series": "e", "values": "0x20"}],
                    "expect": [
                        {
                            "at": "5m",
                            "firing": True,
                            "annotations": {"summary": "other"},
                            "labels": {"who": ""},
                        }
                    ],
                },
            ],
        },
    )
    result = render_prometheus([group], source="tiation.yaml")
    assert (result.generated_tests, result.explicit_tests, result.untested) == (0, 2, [])
    tests = _files([group])["app.test.yml"]
    assert tests["rule_files"] == ["app.rules.yml"]
    assert tests["evaluation_interval"] == "1m"
    first, second = tests["tests"]
    assert first["name"] == "HighErrorRate: fires"
    assert first["interval"] == "30s"
    assert first["input_series"] == [{"series": 'e{team="a"}', "values": "0+10x20"}]
    assert first["alert_rule_test"] == [
        {"eval_time": "1m", "alertname": "HighErrorRate", "exp_alerts": []},
        {
            "eval_time": "5m",
            "alertname": "HighErrorRate",
            "exp_alerts": [
                {
                    "exp_labels": {"severity": "critical", "team": "a", "who": "a"},
                    "exp_annotations": {"summary": "errors"},
                }
            ],
        },
    ]
    assert second["name"] == "HighErrorRate: test 2"
    assert second["alert_rule_test"][0]["exp_alerts"] == [
        {"exp_labels": {"severity": "critical"}, "exp_annotations": {"summary": "other"}}
    ]


def test_same_input_gives_byte_identical_output() -> None:
    def build() -> list[tuple[str, str]]:
        groups = [
            _group(
                "a",
                "15s",
                X={"expr": 'm{b="2", a=~"x|y"} >= 3', "annotations": {"z": "1", "a": "{{ $value }}"}},
            ),
            _group("b", Y={"expr": "n != 0", "for": "90s"}),
        ]
        return [(f.name, f.content) for f in render_prometheus(groups, source="t.yaml").files]

    assert build() == build()
    # series labels are sorted, so the order matchers are written in does not matter
    assert 'm{a=\\"x\\", b=\\"2\\"}' in build()[1][1]


def test_no_groups_no_files() -> None:
    assert render_prometheus([], source="tiation.yaml").files == []
