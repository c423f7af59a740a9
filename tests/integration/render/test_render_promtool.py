"""Rendered rule files and their generated tests, run by the real `promtool check rules` / `test rules`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter
from ruamel.yaml import YAML

from fixtures.monitoring import tool
from tiation.config.loader import load_platform
from tiation.config.rules import RuleGroup
from tiation.render.files import write_files
from tiation.render.prometheus import render_prometheus

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ecosystem" / "tiation.yaml"

SHAPES = """
- name: shapes
  rules:
    - alert: DiskSpaceLow
      expr: disk_free_percent{mount=~"/|/data", fs!="tmpfs"} < 20
      for: 2m
      labels: {severity: critical}
      annotations:
        summary: "Low disk space on {{ $labels.mount }}"
        description: "{{ .Labels.mount }} has {{ $value }}% free"
    - alert: Freezing
      expr: temperature_celsius <= -5.5
      labels: {severity: info, room: "{{ $labels.room }}x"}
    - alert: TargetDown
      expr: up{job="api"} == 0
      for: 90s
      labels: {severity: critical}
    - alert: NotThousand
      expr: x != 1e3
      for: 10s
      labels: {severity: warning}
    - alert: AtLeastZero
      expr: 'y{a="b\\"c"} >= 0'
      for: 1m
      labels: {severity: warning, team: "{{ $labels.a }}"}
    - alert: Big
      expr: bytes_total > 1e6
      labels: {severity: warning}
      annotations: {summary: "{{ $value }} bytes"}
- name: every-45s
  interval: 45s
  rules:
    - alert: SlowRequests
      expr: http_request_duration_seconds > 2
      for: 2m
      labels: {severity: warning}
    - alert: Tiny
      expr: ratio < 0.001
      for: 5s
      labels: {severity: emergency}
      annotations: {summary: "ratio {{ $value }}"}
"""


def _groups(text: str) -> list[RuleGroup]:
    return TypeAdapter(list[RuleGroup]).validate_python(YAML(typ="safe", pure=True).load(text))


def _render(out: Path, groups: list[RuleGroup]) -> Any:
    result = render_prometheus(groups, source="tiation.yaml")
    write_files(out, result.files)
    return result


def _promtool(*args: str) -> str:
    proc = tool("promtool", *args)
    assert proc.returncode == 0, f"promtool {' '.join(args)}:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def test_the_seed_rules_check_and_every_one_is_tested(tmp_path: Path) -> None:
    groups = load_platform(EXAMPLE).platform.alerting.rules
    result = _render(tmp_path, groups)
    assert [g.name for g in groups] == ["system-health", "application-performance", "business-metrics"]
    assert result.untested == []
    assert (result.generated_tests, result.explicit_tests) == (6, 2)  # HighErrorRate has written-out tests
    out = _promtool("check", "rules", *sorted(str(p) for p in tmp_path.glob("*.rules.yml")))
    assert out.count("SUCCESS") == 3
    for test_file in sorted(tmp_path.glob("*.test.yml")):
        assert "SUCCESS" in _promtool("test", "rules", str(test_file))


def test_generated_tests_pass_for_many_kinds_of_comparison(tmp_path: Path) -> None:
    result = _render(tmp_path, _groups(SHAPES))
    assert result.untested == []
    assert result.generated_tests == 8
    _promtool("check", "rules", str(tmp_path / "shapes.rules.yml"), str(tmp_path / "every-45s.rules.yml"))
    _promtool("test", "rules", str(tmp_path / "shapes.test.yml"), str(tmp_path / "every-45s.test.yml"))


@pytest.mark.parametrize(
    ("file", "written", "changed"),
    [
        ("system-health", "expr: cpu_usage_percent > 80", "expr: cpu_usage_percent >= 80"),  # fires at 80
        ("system-health", "expr: cpu_usage_percent > 80", "expr: cpu_usage_percent > 90"),  # never at 88
        ("system-health", "for: 5m", "for: 4m"),  # fires an evaluation early
        ("system-health", "for: 5m", "for: 6m"),  # fires an evaluation late
        ("system-health", "severity: warning", "severity: info"),
        ("system-health", "summary: High CPU usage detected", "summary: CPU"),
        ("business-metrics", "expr: active_users < 100", "expr: active_users <= 100"),
        ("application-performance", "5m])) > 0.05", "5m])) >= 0.05"),  # exactly 5% must stay quiet
        (
            "application-performance",
            "for: 2m\n        labels:\n          severity: critical",
            "for: 1m\n        labels:\n          severity: critical",
        ),
    ],
)
def test_the_tests_catch_a_rule_file_that_drifts(
    tmp_path: Path, file: str, written: str, changed: str
) -> None:
    _render(tmp_path, load_platform(EXAMPLE).platform.alerting.rules)
    rules = tmp_path / f"{file}.rules.yml"
    text = rules.read_text()
    assert written in text
    rules.write_text(text.replace(written, changed, 1))
    tool_ok = tool("promtool", "check", "rules", str(rules))
    assert tool_ok.returncode == 0, tool_ok.stdout + tool_ok.stderr  # still a valid rule file ...
    proc = tool("promtool", "test", "rules", str(tmp_path / f"{file}.test.yml"))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # ... whose tests now fail
    assert "FAILED" in proc.stdout + proc.stderr
