"""The alerting pillar end to end, every piece real: rules and Alertmanager config rendered by the CLI, a real
Prometheus scraping a metrics endpoint and a real Alertmanager posting to `tiation serve` (the CLI, in a
subprocess), escalation through two steps to two signed-webhook receivers, an acknowledgement through the CLI
that stops it, and the incident resolving when the metric recovers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from fixtures.common import our_processes
from fixtures.monitoring import Monitoring, Received, wait_for
from integration.alerting_server.serve_kit import Serve, servers
from tiation.server.auth import token_digest

pytestmark = pytest.mark.integration

SERIES = 'queue_length{queue="jobs"}'
INTAKE_TOKEN = "e2e-am-token-3b9f0c"
SECRETS = {"pager-1": "e2e-hook-one-secret-71d2", "pager-2": "e2e-hook-two-secret-c40a"}
ACTOR = "e2e-oncall"
PAGES = ("trigger", "escalate", "repeat")

PLATFORM = """\
version: 1
project: {name: alerting-e2e}
environments: {production: {target: fake}}
services: {checkout: {port: 5000}}
people:
  ann: {name: Ann On-Call, email: ann@example.com}
  bob: {name: Bob Backup, email: bob@example.com}
notifiers:
  pager-1: {kind: webhook, url: env:E2E_HOOK1_URL, secret: env:E2E_HOOK1_SECRET}
  pager-2: {kind: webhook, url: env:E2E_HOOK2_URL, secret: env:E2E_HOOK2_SECRET}
server: {host: 127.0.0.1, port: {port}}
alerting:
  intake:
    alertmanager: {tokens_sha256: ["DIGEST"]}
  rules:
    - name: e2e
      rules:
        - alert: QueueTooLong
          expr: queue_length > 100
          for: 2s
          labels: {severity: critical, service: checkout}
          annotations: {summary: "queue {{ $labels.queue }} holds {{ $value }} jobs"}
  severities:
    critical: {channels: [], escalation_delay: 3s}
  default_severity: critical
  policies:
    page:
      steps:
        - notify: [{person: ann, via: [pager-1]}]
        - notify: [{person: bob, via: [pager-2]}]
          wait: 8s            # room for the CLI to acknowledge before step 3 would page
        - notify: [{person: ann, via: [pager-1]}]
  routes:
    - match: {severity: critical}
      policy: page
"""


def _events(received: list[Received], *events: str) -> list[Received]:
    return [r for r in received if isinstance(r.body, dict) and r.body.get("event") in events]


def _header(r: Received, name: str) -> str:
    return next((v for k, v in r.headers.items() if k.lower() == name.lower()), "")


def _check_signed(r: Received, notifier: str) -> dict[str, Any]:
    """The body as the notifier signed it (compact JSON, the bytes it sent), verified with its secret."""
    raw = json.dumps(r.body, ensure_ascii=False, separators=(",", ":")).encode()
    expected = "sha256=" + hmac.new(SECRETS[notifier].encode(), raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(_header(r, "X-Tiation-Signature"), expected), f"bad signature from {notifier}"
    body: dict[str, Any] = r.body
    assert _header(r, "X-Tiation-Timestamp") == str(body["sent_at"])
    assert _header(r, "Idempotency-Key") == body["key"]
    assert body["notifier"] == notifier and r.path == "/page"
    return body


def _due(steps: list[dict[str, Any]]) -> list[float]:
    return [datetime.fromisoformat(s["due_at"]).timestamp() for s in steps]


def test_prometheus_alert_escalates_is_acknowledged_and_resolves(
    tmp_path: Path, monitoring: Monitoring
) -> None:
    hook1, hook2 = monitoring.webhook_receiver(), monitoring.webhook_receiver()
    token_file = tmp_path / "am.token"
    token_file.write_text(INTAKE_TOKEN + "\n")
    env = {
        "E2E_HOOK1_URL": hook1.url("/page"),
        "E2E_HOOK1_SECRET": SECRETS["pager-1"],
        "E2E_HOOK2_URL": hook2.url("/page"),
        "E2E_HOOK2_SECRET": SECRETS["pager-2"],
        "TIATION_ACTOR": ACTOR,
    }
    with servers(tmp_path / "serve") as start:
        serve: Serve = start(PLATFORM.replace("DIGEST", token_digest(INTAKE_TOKEN)), env=env, run=False)
        prom_dir, am_dir = tmp_path / "prometheus-rules", tmp_path / "alertmanager-config"
        serve.cli("render", "prometheus", "--out", str(prom_dir))
        rendered = serve.cli(
            "render", "alertmanager", "--out", str(am_dir), "--token-file", str(token_file),
            "--group-wait", "1s", "--group-interval", "1s", "--json",
        ).json()  # fmt: skip
        assert rendered["webhook_url"] == f"{serve.base}/api/v1/intake/alertmanager"
        assert rendered["token_file_exists"] is True
        assert INTAKE_TOKEN not in (am_dir / "alertmanager.yml").read_text()

        metrics = monitoring.metrics_endpoint()
        metrics.set(SERIES, 5)
        alertmanager = monitoring.alertmanager(am_dir / "alertmanager.yml")
        prometheus = monitoring.prometheus(
            [prom_dir / "e2e.rules.yml"], scrape=[metrics.target], alertmanager=alertmanager
        )
        serve.start()

        def rule() -> dict[str, Any]:
            groups = prometheus.get_json("/api/v1/rules")["data"]["groups"]
            return groups[0]["rules"][0] if groups else {}

        wait_for("Prometheus to evaluate the rendered rule", lambda: rule().get("health") == "ok")
        assert rule()["state"] == "inactive"

        # the metric crosses the threshold: after `for: 2s` Alertmanager posts to tiation, which pages step 1
        metrics.set(SERIES, 150)
        trigger = wait_for("step 1's page at receiver 1", lambda: _events(hook1.requests(), "trigger"))[0]
        page1 = _check_signed(trigger, "pager-1")
        incident_id = page1["incident_id"]
        assert page1["key"] == f"{incident_id}:step0:pager-1:ann"
        assert page1["title"] == "[critical] QueueTooLong checkout"
        assert page1["summary"] == "queue jobs holds 150 jobs"
        assert page1["recipient"]["name"] == "Ann On-Call"
        assert page1["labels"] | {"job": "app", "instance": metrics.target} == page1["labels"]
        assert {k: page1["labels"][k] for k in ("alertname", "service", "severity", "queue")} == {
            "alertname": "QueueTooLong",
            "service": "checkout",
            "severity": "critical",
            "queue": "jobs",
        }

        listed = serve.cli("alerts", "list", "--json").json()
        assert [(i["id"], i["state"], i["policy"], i["severity"]) for i in listed] == [
            (incident_id, "triggered", "page", "critical")
        ]

        # step 2, to the second receiver, 3 s after step 1 was due
        escalate = wait_for("step 2's page at receiver 2", lambda: _events(hook2.requests(), "escalate"))[0]
        page2 = _check_signed(escalate, "pager-2")
        assert (page2["incident_id"], page2["key"]) == (incident_id, f"{incident_id}:step1:pager-2:bob")
        assert page2["recipient"]["name"] == "Bob Backup"
        steps = serve.incident(incident_id)["steps"]
        due = _due(steps)
        assert due[1] - due[0] == pytest.approx(3.0) and due[2] - due[1] == pytest.approx(8.0)
        fired = [datetime.fromisoformat(s["fired_at"]).timestamp() for s in steps[:2]]
        assert fired[0] >= due[0] and fired[1] >= due[1]  # step 2 only once the wait was over
        assert page2["sent_at"] >= int(due[1])

        # an acknowledgement through the CLI (same state store) stops escalation
        acked = serve.cli("alerts", "ack", incident_id[:6])
        assert f"{incident_id} acknowledged by {ACTOR}; escalation stopped" in acked.stdout
        shown = serve.incident(incident_id)
        assert (shown["state"], shown["acknowledged_by"]) == ("acknowledged", ACTOR)
        states = [s["state"] for s in shown["steps"]]
        assert states[2] != "fired", "step 3 fired before the CLI acknowledged (8 s later): machine too slow?"
        assert states == ["fired", "fired", "cancelled"]  # the acknowledgement cancelled step 3
        for hook, notifier, person in ((hook1, "pager-1", "ann"), (hook2, "pager-2", "bob")):
            told = wait_for(
                f"{notifier}'s acknowledge", lambda hook=hook: _events(hook.requests(), "acknowledge")
            )
            body = _check_signed(told[0], notifier)
            assert (body["incident_id"], body["key"]) == (
                incident_id,
                f"{incident_id}:acknowledge:{notifier}:{person}",
            )
        while time.time() < due[2] + 4.0:  # longer than a step wait past when step 3 would have paged
            time.sleep(0.2)
        assert [r.body["key"] for r in _events(hook1.requests(), *PAGES)] == [page1["key"]]
        assert [r.body["key"] for r in _events(hook2.requests(), *PAGES)] == [page2["key"]]

        # the metric recovers: Alertmanager's resolved notification closes the incident
        metrics.set(SERIES, 5)

        def resolved() -> dict[str, Any] | None:
            data = serve.incident(incident_id)
            return data if data["state"] == "resolved" else None

        closed = wait_for("the incident to resolve", resolved, interval=0.5)
        assert closed["resolved_by"] == "source"
        assert [a["status"] for a in closed["alerts"]] == ["resolved"]
        for hook, notifier, person in ((hook1, "pager-1", "ann"), (hook2, "pager-2", "bob")):
            told = wait_for(f"{notifier}'s resolve", lambda hook=hook: _events(hook.requests(), "resolve"))
            body = _check_signed(told[0], notifier)
            assert body["key"] == f"{incident_id}:resolve:{notifier}:{person}"
        assert serve.cli("alerts", "list", "--json").json() == []
        assert serve.stop() == 0

    everything = [*_events(hook1.requests(), *PAGES, "acknowledge", "resolve")]
    everything += _events(hook2.requests(), *PAGES, "acknowledge", "resolve")
    assert len(everything) == 6 == len({r.body["key"] for r in everything})  # nothing twice
    final = serve.incident(incident_id)["notifications"]
    assert [(n["notifier"], n["event"], n["state"]) for n in final] == [
        ("pager-1", "trigger", "sent"),
        ("pager-2", "escalate", "sent"),
        ("pager-1", "acknowledge", "sent"),
        ("pager-2", "acknowledge", "sent"),
        ("pager-1", "resolve", "sent"),
        ("pager-2", "resolve", "sent"),
    ]
    audit = serve.cli("audit", "--json").json()["events"]
    assert [(e["action"], e["actor"]) for e in audit if e["action"].startswith("alerts.")] == [
        ("alerts.ack", ACTOR)
    ]
    log = serve.log()
    assert "POST /api/v1/intake/alertmanager 202" in log
    assert INTAKE_TOKEN not in log and all(s not in log for s in SECRETS.values())
    assert not our_processes(tmp_path / "serve")
