"""`tiation render prometheus|alertmanager` through the real CLI, on a copy of the example ecosystem."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fixtures.eco import Eco
from fixtures.monitoring import tool

PROM_FILES = [
    f"{group}.{kind}.yml"
    for group in ("system-health", "application-performance", "business-metrics")
    for kind in ("rules", "test")
]
TOKEN = "planted-am-token-51c0"


def _hashes(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


def test_render_prometheus_writes_rules_and_tests_that_promtool_passes(eco: Eco, tmp_path: Path) -> None:
    out = tmp_path / "prom"
    run = eco.tiation("render", "prometheus", "--out", str(out))
    assert [line for line in run.stdout.splitlines() if line.startswith("wrote ")] == [
        f"wrote {out / name}" for name in PROM_FILES
    ]
    assert "3 groups, 7 rules: 6 generated tests, 2 from tests:" in run.stdout
    assert "no test for" not in run.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(PROM_FILES)
    for name in PROM_FILES:
        if name.endswith(".test.yml"):
            proc = tool("promtool", "test", "rules", str(out / name))
            assert proc.returncode == 0, proc.stdout + proc.stderr

    first = _hashes(out)
    again = eco.tiation("render", "prometheus", "--out", str(out), "--json").json()
    assert _hashes(out) == first  # byte-identical
    assert again["kind"] == "prometheus"
    assert [f["changed"] for f in again["files"]] == [False] * 6
    assert {Path(f["path"]).name: f["sha256"] for f in again["files"]} == first
    assert (again["groups"], again["rules"], again["generated_tests"], again["explicit_tests"]) == (
        3,
        7,
        6,
        2,
    )
    assert again["untested"] == [] and again["removed"] == []
    human = eco.tiation("render", "prometheus", "--out", str(out)).stdout
    assert human.count("unchanged ") == 6


def test_untested_rules_and_stale_files_are_reported(eco: Eco, tmp_path: Path) -> None:
    out = tmp_path / "prom"
    eco.tiation("render", "prometheus", "--out", str(out))
    eco.edit("    - name: business-metrics\n", "    - name: business\n")
    eco.edit(
        "        - alert: LowUserActivity\n",
        "        - alert: Saturated\n"
        "          expr: avg by (host) (rate(cpu_seconds_total[5m])) > 0.9\n"
        "          labels: {severity: warning}\n"
        "        - alert: LowUserActivity\n",
    )
    run = eco.tiation("render", "prometheus", "--out", str(out))
    assert f"removed {out / 'business-metrics.rules.yml'} (no longer rendered)" in run.stdout
    assert f"removed {out / 'business-metrics.test.yml'} (no longer rendered)" in run.stdout
    assert (
        "! no test for business/Saturated: expr is not '<selector> <op> <number>' (give the rule tests:)"
        in run.stdout
    )
    assert (out / "business.rules.yml").exists() and not (out / "business-metrics.rules.yml").exists()
    summary = eco.tiation("render", "prometheus", "--out", str(out), "--json").json()
    assert summary["untested"] == [
        {"group": "business", "alert": "Saturated", "reason": "expr is not '<selector> <op> <number>'"}
    ]


def test_a_rule_without_severity_is_a_one_line_error(eco: Eco, tmp_path: Path) -> None:
    text = eco.file.read_text()
    eco.edit(
        "          expr: memory_usage_percent > 85\n          for: 5m\n          labels: {severity: warning}\n",
        "          expr: memory_usage_percent > 85\n          for: 5m\n          labels: {severity: high}\n",
    )
    run = eco.tiation("render", "prometheus", "--out", str(tmp_path / "o"), expect=2)
    line = text[: text.index("memory_usage_percent > 85")].count("\n") + 3
    assert run.stderr == (
        f"error: {eco.file}:{line}:30: alerting.rules[0].rules[1].labels.severity: unknown severity 'high'; "
        "expected one of info, warning, critical, emergency\n"
    )
    assert not (tmp_path / "o").exists()


def test_render_alertmanager_points_at_tiation_with_a_token_file(eco: Eco, tmp_path: Path) -> None:
    out = tmp_path / "am"
    token_file = tmp_path / "secrets" / "am.token"
    token_file.parent.mkdir()
    token_file.write_text(TOKEN)
    run = eco.tiation(
        "render",
        "alertmanager",
        "--out",
        str(out),
        "--webhook-url",
        "https://ops.example.com/api/v1/intake/alertmanager",
        "--token-file",
        str(token_file),
    )
    config = (out / "alertmanager.yml").read_text()
    assert f"credentials_file: {token_file}" in config
    assert 'url: "https://ops.example.com/api/v1/intake/alertmanager"' in config
    assert TOKEN not in config and TOKEN not in run.out
    assert run.stdout.splitlines()[0] == f"wrote {out / 'alertmanager.yml'}"
    assert "does not exist" not in run.stdout
    proc = tool("amtool", "check-config", str(out / "alertmanager.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr

    summary = eco.tiation("render", "alertmanager", "--out", str(out), "--json").json()
    assert summary["webhook_url"] == "http://127.0.0.1:8080/api/v1/intake/alertmanager"  # server defaults
    assert summary["token_file"] == str(out / "alertmanager.token")
    assert summary["token_file_exists"] is False
    assert summary["files"][0]["changed"] is True
    default = eco.tiation("render", "alertmanager", "--out", str(out)).stdout
    assert f"! {out / 'alertmanager.token'} does not exist yet" in default
    assert "unchanged" in default
    based = eco.tiation(
        "render", "alertmanager", "--out", str(out), "--webhook-url", "https://ops.example.com"
    )
    assert "receiver: https://ops.example.com/api/v1/intake/alertmanager (" in based.stdout


def test_bad_render_arguments_are_one_line_usage_errors(eco: Eco, tmp_path: Path) -> None:
    out = str(tmp_path / "am")
    run = eco.tiation("render", "alertmanager", "--out", out, "--webhook-url", "ftp://x/y", expect=2)
    assert (
        run.stderr == "error: --webhook-url must be an http:// or https:// URL with a host, got 'ftp://x/y'\n"
    )
    run = eco.tiation("render", "alertmanager", "--out", out, "--group-wait", "soon", expect=2)
    assert run.stderr.startswith("error: --group-wait: expected a duration") and run.stderr.count("\n") == 1
    run = eco.tiation("render", "prometheus", expect=2)
    assert "--out" in run.stderr
    listing = eco.tiation("render", "--help").stdout
    assert "prometheus" in listing and "alertmanager" in listing
