"""A rendered rule in a real Prometheus, through a real Alertmanager on the rendered config, to a webhook.

The metric crosses the threshold, the alert fires after its `for`, Alertmanager posts a version-4 webhook
payload with the alert's labels and the bearer token from the credentials file; the metric recovers and the
receiver is told the alert is resolved.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fixtures.monitoring import Monitoring, Received, tool, wait_for
from tiation.config.rules import RuleGroup
from tiation.render.alertmanager import INTAKE_PATH, AlertmanagerSettings, render_alertmanager
from tiation.render.files import write_files
from tiation.render.prometheus import render_prometheus

pytestmark = pytest.mark.integration

SERIES = 'queue_length{queue="jobs"}'


def _with_status(received: list[Received], status: str) -> list[Received]:
    return [r for r in received if isinstance(r.body, dict) and r.body.get("status") == status]


def test_a_rendered_rule_fires_through_alertmanager_and_resolves(
    tmp_path: Path, monitoring: Monitoring
) -> None:
    group = RuleGroup.model_validate(
        {
            "name": "flow",
            "rules": [
                {
                    "alert": "QueueTooLong",
                    "expr": f"{SERIES} > 100",
                    "for": "2s",
                    "labels": {"severity": "critical", "team": "ops"},
                    "annotations": {"summary": "queue {{ $labels.queue }} holds {{ $value }} jobs"},
                }
            ],
        }
    )
    rules_dir = tmp_path / "rules"
    write_files(rules_dir, render_prometheus([group], source="tiation.yaml").files)
    check = tool("promtool", "test", "rules", str(rules_dir / "flow.test.yml"))
    assert check.returncode == 0, check.stdout + check.stderr

    receiver = monitoring.webhook_receiver()
    am_dir = tmp_path / "alertmanager"
    token = secrets.token_urlsafe(24)
    am_dir.mkdir()
    (am_dir / "alertmanager.token").write_text(token + "\n")  # the default, relative credentials_file
    settings = AlertmanagerSettings(
        webhook_url=receiver.url(INTAKE_PATH),
        group_wait=timedelta(seconds=1),
        group_interval=timedelta(seconds=1),
    )
    write_files(am_dir, [render_alertmanager(settings, source="tiation.yaml")])
    assert token not in (am_dir / "alertmanager.yml").read_text()

    metrics = monitoring.metrics_endpoint()
    metrics.set(SERIES, 5)
    alertmanager = monitoring.alertmanager(am_dir / "alertmanager.yml")
    prometheus = monitoring.prometheus(
        [rules_dir / "flow.rules.yml"], scrape=[metrics.target], alertmanager=alertmanager
    )

    def scraped(value: str) -> bool:
        result = prometheus.get_json(f"/api/v1/query?query={SERIES}")["data"]["result"]
        return bool(result) and result[0]["value"][1] == value

    def rule_state() -> Any:
        rules = prometheus.get_json("/api/v1/rules")["data"]["groups"]
        return rules[0]["rules"][0] if rules else None

    wait_for("Prometheus to scrape the quiet value", lambda: scraped("5"))
    wait_for("the rule to be evaluated", lambda: (rule_state() or {}).get("health") == "ok")
    assert rule_state()["state"] == "inactive"
    assert receiver.requests() == []

    metrics.set(SERIES, 150)
    firing = wait_for("a firing notification", lambda: _with_status(receiver.requests(), "firing"))[0]
    assert firing.path == INTAKE_PATH
    assert firing.headers["Authorization"] == f"Bearer {token}"
    payload = firing.body
    assert payload["version"] == "4"
    assert payload["receiver"] == "tiation"
    assert len(payload["alerts"]) == 1
    alert = payload["alerts"][0]
    assert alert["status"] == "firing"
    assert alert["labels"] == {
        "alertname": "QueueTooLong",
        "severity": "critical",
        "team": "ops",
        "queue": "jobs",
        "job": "app",
        "instance": metrics.target,
    }
    assert alert["annotations"] == {"summary": "queue jobs holds 150 jobs"}
    assert payload["groupLabels"] == alert["labels"]  # group_by ['...']: every alert is its own group

    metrics.set(SERIES, 5)
    resolved = wait_for("a resolved notification", lambda: _with_status(receiver.requests(), "resolved"))[0]
    assert resolved.headers["Authorization"] == f"Bearer {token}"
    done = resolved.body["alerts"][0]
    assert done["status"] == "resolved"
    assert done["fingerprint"] == alert["fingerprint"]
    assert done["labels"] == alert["labels"]
    assert done["endsAt"] > done["startsAt"]
