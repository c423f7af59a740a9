"""The JSON-able summary of a platform file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tiation.config.loader import load_platform
from tiation.config.summary import summarize

VALID = Path(__file__).parents[2] / "spec" / "config" / "valid.yaml"


def test_summary_of_the_full_example() -> None:
    summary = summarize(load_platform(VALID))
    assert summary["project"] == "shop"
    assert summary["file"] == str(VALID)
    assert summary["state"] == "env:TIATION_STATE_URL"
    assert summary["counts"] == {
        "environments": 3,
        "services": 3,
        "probes": 4,
        "backups": 0,
        "people": 0,
        "schedules": 0,
        "notifiers": 0,
        "alert_rules": 0,
        "severities": 0,
        "policies": 0,
        "silences": 0,
    }
    assert summary["environments"][2] == {
        "name": "prod",
        "target": "fake",
        "approval": "required",
        "approval_ttl": "2h",
        "services_overridden": ["cms"],
    }
    cms = summary["services"][1]
    assert cms["name"] == "cms"
    assert cms["port"] == 8080
    assert cms["tier"] == "critical"
    assert cms["depends_on"] == ["db-proxy"]
    assert cms["replicas"] == 1
    assert cms["probes"] == ["http /health", "migrations"]
    assert summary["objectives"] == {
        "critical": {"rto": "5m", "rpo": "1m"},
        "standard": {"rto": "1h", "rpo": "1h30m"},
    }


def test_secrets_appear_only_as_references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:very-secret-pw@db/x")
    summary = summarize(load_platform(VALID))
    env = summary["services"][1]["env"]
    assert env == {
        "DATABASE_URL": "env:DATABASE_URL",
        "ADMIN_TOKEN": "file:secrets/admin_token",
        "LOG_LEVEL": "info",
    }
    assert "very-secret-pw" not in json.dumps(summary)


def test_summary_is_json_serialisable() -> None:
    summary = summarize(load_platform(VALID))
    assert json.loads(json.dumps(summary)) == summary


def test_plain_env_values_with_credentials_are_masked(tmp_path: Path) -> None:
    path = tmp_path / "tiation.yaml"
    path.write_text(
        "project: {name: p}\nenvironments: {dev: {target: fake}}\n"
        "services:\n  cms:\n    port: 1\n    env: {UPSTREAM: 'https://bot:tok3n-value@api.example'}\n",
        encoding="utf-8",
    )
    env = summarize(load_platform(path))["services"][0]["env"]
    assert env == {"UPSTREAM": "https://bot:<secret>@api.example"}
