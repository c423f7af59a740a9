"""`alerting.rules` in the platform file: a `severity` label on every rule, and one-line positioned errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tiation.config.loader import load_platform
from tiation.config.rules import DEFAULT_SEVERITIES, RuleGroup, check_rules
from tiation.errors import ConfigError

HEAD = """\
project:
  name: shop
environments:
  dev: {target: fake}
services:
  cms:
    port: 8080
"""


def _load(tmp_path: Path, alerting: str) -> object:
    path = tmp_path / "tiation.yaml"
    path.write_text(HEAD + "alerting:\n" + textwrap.indent(textwrap.dedent(alerting), "  "), encoding="utf-8")
    return load_platform(path)


def _error(tmp_path: Path, alerting: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, alerting)
    message = str(caught.value)
    assert "\n" not in message
    return message.replace(str(tmp_path) + "/", "")


def test_rules_with_severities_and_tests_load(tmp_path: Path) -> None:
    loaded = _load(
        tmp_path,
        """\
        rules:
          - name: system-health
            interval: 30s
            rules:
              - alert: HighCPU
                expr: cpu > 80
                for: 5m
                labels: {severity: warning}
                annotations: {summary: hot}
                tests:
                  - series: [{series: cpu, values: 90x10}]
                    expect: [{at: 6m, firing: true}]
        """,
    )
    rule = loaded.platform.alerting.rules[0].rules[0]  # type: ignore[attr-defined]
    assert rule.for_.total_seconds() == 300
    assert rule.tests[0].interval.total_seconds() == 60
    assert rule.tests[0].expect[0].firing is True


def test_a_rule_without_severity_is_an_error_at_its_labels(tmp_path: Path) -> None:
    message = _error(
        tmp_path,
        """\
        rules:
          - name: g
            rules:
              - alert: A
                expr: up == 0
                labels: {team: db}
        """,
    )
    assert message == (
        "tiation.yaml:14:11: alerting.rules[0].rules[0].labels.severity: rule 'A' needs a 'severity' label "
        "(info, warning, critical, emergency)"
    )


def test_a_rule_without_labels_points_at_the_rule(tmp_path: Path) -> None:
    message = _error(
        tmp_path,
        """\
        rules:
          - name: g
            rules:
              - alert: A
                expr: up == 0
        """,
    )
    # line 12 is the rule's `- alert: A`
    assert message.startswith(
        "tiation.yaml:12:11: alerting.rules[0].rules[0].labels.severity: rule 'A' needs"
    )


def test_an_unknown_severity_is_an_error_at_its_value(tmp_path: Path) -> None:
    message = _error(
        tmp_path,
        """\
        rules:
          - name: g
            rules:
              - alert: A
                expr: up == 0
                labels:
                  severity: page
        """,
    )
    assert message == (
        "tiation.yaml:15:23: alerting.rules[0].rules[0].labels.severity: unknown severity 'page'; "
        "expected one of info, warning, critical, emergency"
    )


def test_configured_severities_replace_the_default_levels(tmp_path: Path) -> None:
    rules = """\
        rules:
          - name: g
            rules:
              - alert: A
                expr: up == 0
                labels: {severity: SEV}
        """
    severities = "        severities: {sev1: {}, sev2: {}}\n        default_severity: sev2\n"
    _load(tmp_path, severities + rules.replace("SEV", "sev1"))
    message = _error(tmp_path, severities + rules.replace("SEV", "critical"))
    assert message.endswith("unknown severity 'critical'; expected one of sev1, sev2")


def test_the_allowed_severities_are_a_parameter() -> None:
    group = RuleGroup.model_validate(
        {"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "labels": {"severity": "page"}}]}
    )
    assert check_rules([group], ["page"]) == []
    assert check_rules([group]) == [
        (
            ("alerting", "rules", 0, "rules", 0, "labels", "severity"),
            f"unknown severity 'page'; expected one of {', '.join(DEFAULT_SEVERITIES)}",
        )
    ]


@pytest.mark.parametrize(
    ("alerting", "expected"),
    [
        (
            """\
            rules:
              - {name: g, rules: [{alert: A, expr: up == 0, labels: {severity: info}}]}
              - {name: G, rules: [{alert: B, expr: up == 0, labels: {severity: info}}]}
            """,
            "tiation.yaml:11:14: alerting.rules[1].name: group name 'G' is used twice (also 'g')",
        ),
        (
            """\
            rules:
              - {name: bad name, rules: [{alert: A, expr: up == 0, labels: {severity: info}}]}
            """,
            "tiation.yaml:10:14: alerting.rules[0].name:",
        ),
        (
            """\
            rules:
              - {name: g, rules: [{alert: A, expr: up == 0, labels: {severity: info, alertname: B}}]}
            """,
            "alerting.rules[0].rules[0].labels.alertname: 'alertname' is set by Prometheus from 'alert'",
        ),
        (
            """\
            rules:
              - {name: g, interval: 0s, rules: [{alert: A, expr: up == 0, labels: {severity: info}}]}
            """,
            "alerting.rules[0].interval: an evaluation interval must be longer than 0s",
        ),
        (
            """\
            rules:
              - {name: g, rules: [{alert: A-1, expr: up == 0, labels: {severity: info}}]}
            """,
            "alerting.rules[0].rules[0].alert:",
        ),
        (
            """\
            rules:
              - {name: g, rules: [{alert: A, expr: up == 0, labels: {severity: info, 0x: y}}]}
            """,
            "alerting.rules[0].rules[0].labels",
        ),
        (
            """\
            rules:
              - {name: g, rules: [{alert: A, expr: up == 0, labels: {severity: info}, fore: 5m}]}
            """,
            "alerting.rules[0].rules[0].fore: unknown key 'fore'",
        ),
    ],
)
def test_rule_mistakes_are_one_positioned_line(tmp_path: Path, alerting: str, expected: str) -> None:
    assert expected in _error(tmp_path, alerting)


def test_templated_annotations_need_expected_annotations_in_explicit_tests(tmp_path: Path) -> None:
    rule = """\
        rules:
          - name: g
            rules:
              - alert: A
                expr: rate(x[5m]) > 1
                labels: {severity: info, team: "{{ $labels.team }}"}
                annotations: {summary: "rate is {{ $value }}"}
                tests:
                  - series: [{series: 'x{team="db"}', values: 0+120x10}]
                    expect:
                      - {at: 5m, firing: true, labels: {team: db}EXTRA}
        """
    message = _error(tmp_path, rule.replace("EXTRA", ""))
    assert message == (
        "tiation.yaml:19:19: alerting.rules[0].rules[0].tests[0].expect[0].annotations: "
        "the rule's annotations use templates: give the expected 'annotations'"
    )
    _load(tmp_path, rule.replace("EXTRA", ", annotations: {summary: rate is 2}"))
    message = _error(tmp_path, rule.replace("{team: db}EXTRA", "{}, annotations: {summary: s}"))
    assert message.endswith("the rule's labels team use templates: give their values in 'labels'")
