"""Secret hygiene of the whole alerting pillar: distinctive values are planted as the intake token, the API token,
a webhook URL (secret path and query) and its HMAC key, a Slack webhook URL, a PagerDuty routing key and an
SMTP password. The real server (subprocess) takes alerts, escalates, and delivers to receivers that fail in
every way (500, 400, a closed port, an SMTP server refusing the message) while quoting back what they were sent.
Then every output — HTTP answers, /metrics, the server's log, every CLI command's output (`alerts show --json`
with the outbox's last errors, `audit --json`, …), `.tiation/debug.log` if any, and the state DB's bytes — is
searched for each planted value: none may appear.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from serve_kit import Receiver, Serve, closed_port, free_port, servers, wait_for

from tiation.server.auth import token_digest

pytestmark = pytest.mark.integration

INTAKE_TOKEN = "PLANTEDintakeTOKEN41d7"
API_TOKEN = "PLANTEDapiTOKEN9c02"
HOOK_PATH = "PLANTEDhookPATH6e5a"
HOOK_QUERY = "PLANTEDhookQUERY0b13"
HMAC_KEY = "PLANTEDhmacKEY77f0"
SLACK_PATH = "PLANTEDslackPATH3a98"
ROUTING_KEY = "PLANTEDroutingKEY5c5c"
SMTP_PASSWORD = "PLANTEDsmtpPASS2e61"
PLANTED = (INTAKE_TOKEN, API_TOKEN, HOOK_PATH, HOOK_QUERY, HMAC_KEY, SLACK_PATH, ROUTING_KEY, SMTP_PASSWORD)
NOTIFIERS = ("hook", "hook-down", "slack", "pd", "mail", "mail-down")

PLATFORM = """\
version: 1
project: {name: alerting-hygiene}
environments: {production: {target: fake}}
services: {checkout: {port: 5000}}
people:
  ann: {name: Ann, email: ann@example.com, chat: U024BE7LH}
  bob: {name: Bob, email: bob@example.com}
notifiers:
  hook: {kind: webhook, url: env:H_HOOK_URL, secret: env:H_HMAC, timeout: 2s}
  hook-down: {kind: webhook, url: env:H_HOOK_DOWN_URL, secret: env:H_HMAC, timeout: 2s}
  slack: {kind: slack, webhook_url: env:H_SLACK_URL, timeout: 2s}
  pd: {kind: pagerduty, routing_key: env:H_PD_KEY, url: "PD_URL", timeout: 2s}
  mail:
    {kind: email, host: 127.0.0.1, port: SMTP_PORT, starttls: false, username: alerts,
     password: env:H_SMTP_PASSWORD, from: alerts@example.com, to: [ops@example.com], timeout: 2s}
  mail-down:
    {kind: email, host: 127.0.0.1, port: DOWN_PORT, starttls: false, username: alerts,
     password: env:H_SMTP_PASSWORD, from: alerts@example.com, to: [ops@example.com], timeout: 2s}
server:
  host: 127.0.0.1
  port: {port}
  api_tokens_sha256: {ops: "API_DIGEST"}
oncall:
  schedules:
    primary:
      layers: [{name: weekly, start: 2024-01-01T00:00:00Z, rotation: 1w, members: [ann, bob]}]
alerting:
  intake:
    generic: {tokens_sha256: ["INTAKE_DIGEST"]}
    alertmanager: {tokens_sha256: ["INTAKE_DIGEST"]}
  severities:
    critical: {channels: [hook, hook-down, slack, pd, mail, mail-down], escalation_delay: 1s}
  default_severity: critical
  policies:
    page:
      steps:
        - notify: [{person: ann, via: [hook, mail, pd]}]
        - notify: [{schedule: primary, via: [slack, hook-down, mail-down]}]
  default_policy: page
"""


class _RefusingMail:
    """Accepts the login, then refuses the message with a reply that quotes the password."""

    def __init__(self) -> None:
        self.logins: list[bool] = []

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == SMTP_PASSWORD.encode()
        self.logins.append(ok)
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return f"554 5.7.1 rejected for {SMTP_PASSWORD}"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _RefusingMail]]:
    handler = _RefusingMail()
    port = free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, authenticator=handler.authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


def _answers(log: list[str], response: httpx.Response) -> httpx.Response:
    log.append(f"{response.status_code} {dict(response.headers)} {response.text}")
    return response


def test_planted_secrets_never_appear_in_any_output(tmp_path: Path, smtp: tuple[int, _RefusingMail]) -> None:
    smtp_port, mail = smtp
    hook = Receiver(status=500, echo=True).start()
    slack = Receiver(status=400, echo=True).start()
    pd = Receiver(status=400, echo=True).start()
    env = {
        "H_HOOK_URL": hook.url(f"/{HOOK_PATH}/in?key={HOOK_QUERY}"),
        "H_HOOK_DOWN_URL": f"http://127.0.0.1:{closed_port()}/{HOOK_PATH}/in?key={HOOK_QUERY}",
        "H_HMAC": HMAC_KEY,
        "H_SLACK_URL": slack.url(f"/services/T0/B0/{SLACK_PATH}"),
        "H_PD_KEY": ROUTING_KEY,
        "H_SMTP_PASSWORD": SMTP_PASSWORD,
        "TIATION_ACTOR": "hygiene",
    }
    text = (
        PLATFORM.replace("API_DIGEST", token_digest(API_TOKEN))
        .replace("INTAKE_DIGEST", token_digest(INTAKE_TOKEN))
        .replace("PD_URL", pd.url("/v2/enqueue"))
        .replace("SMTP_PORT", str(smtp_port))
        .replace("DOWN_PORT", str(closed_port()))
    )
    seen: list[str] = []
    try:
        with servers(tmp_path / "serve") as start:
            serve = start(text, env=env)
            incident_id = _drive(serve, seen)
            assert serve.stop() == 0
            _read_everything(serve, incident_id)
    finally:
        for receiver in (hook, slack, pd):
            receiver.close()

    # the secrets did travel to the receivers (which quoted them back), so a leak could have been caught
    assert HOOK_PATH in hook.received()[0].path and HOOK_QUERY in hook.received()[0].path
    assert SLACK_PATH in slack.received()[0].path
    assert ROUTING_KEY.encode() in pd.received()[0].raw
    assert True in mail.logins

    outputs = [*seen, *serve.outputs, serve.log()]
    # debug.log if any, the state DB with its journal, and the platform snapshot under cache/
    files = [path for path in (serve.root / ".tiation").rglob("*") if path.is_file()]
    assert any(path.parent.name == "cache" for path in files)
    outputs.extend(path.read_bytes().decode(errors="replace") for path in files)
    leaks = [
        (value, out[max(out.find(value) - 80, 0) :][:200])
        for out in outputs
        for value in PLANTED
        if value in out
    ]
    assert leaks == []
    assert "<secret>" in "\n".join(serve.outputs)  # quoted replies were masked, not dropped unseen


def _drive(serve: Serve, seen: list[str]) -> str:
    """Intake (right and wrong credentials, bad bodies), the management API, escalation, failing deliveries."""
    ok = {"Authorization": f"Bearer {INTAKE_TOKEN}"}
    alert = {"labels": {"alertname": "DiskFull", "service": "checkout", "severity": "critical"}}
    with httpx.Client(base_url=serve.base, timeout=10) as client:
        first = _answers(seen, client.post("/api/v1/intake/generic", json=alert, headers=ok))
        assert first.status_code == 202, first.text
        incident_id: str = first.json()["incidents"][0]
        statuses = [
            _answers(seen, client.post(path, json=body, headers=headers)).status_code
            for path, body, headers in [
                ("/api/v1/intake/generic", alert, {"Authorization": f"Bearer {API_TOKEN}"}),
                ("/api/v1/intake/generic", alert, {"Authorization": f"Bearer {INTAKE_TOKEN}x"}),
                ("/api/v1/intake/generic", {"labels": {"a": 1}, "k": INTAKE_TOKEN}, ok),
                ("/api/v1/intake/alertmanager", {"version": INTAKE_TOKEN, "alerts": []}, ok),
                ("/api/v1/intake/pagerduty", {"routing_key": ROUTING_KEY}, ok),
                (f"/api/v1/incidents/{incident_id}/ack", {}, ok),
            ]
        ]
        assert statuses == [401, 401, 422, 422, 404, 401]
        api = {"Authorization": f"Bearer {API_TOKEN}"}
        assert _answers(seen, client.get("/api/v1/incidents", headers=api)).status_code == 200
        feed = _answers(seen, client.get(f"/api/v1/oncall/primary.ics?token={API_TOKEN}"))
        assert feed.status_code == 200
        assert _answers(seen, client.get(f"/api/v1/oncall/primary.ics?token={API_TOKEN}x")).status_code == 401

        def tried_all() -> bool:
            notes = serve.incident(incident_id)["notifications"]
            return {n["notifier"] for n in notes if n["attempts"] >= 1} == set(NOTIFIERS)

        wait_for("a delivery attempt by every notifier", tried_all, timeout=60, interval=0.5)
        acked = _answers(seen, client.post(f"/api/v1/incidents/{incident_id}/ack", headers=api))
        assert acked.status_code == 200, acked.text
        time.sleep(1.5)  # the failing notifiers try the acknowledgements too
        assert _answers(seen, client.get("/metrics")).status_code == 200
        assert _answers(seen, client.get("/openapi.json")).status_code == 200
    return incident_id


def _read_everything(serve: Serve, incident_id: str) -> None:
    """Every read command, in both forms; the outputs land in `serve.outputs`."""
    shown = serve.incident(incident_id)
    errors = {n["notifier"]: n["last_error"] for n in shown["notifications"] if n["last_error"]}
    assert set(errors) == set(NOTIFIERS), errors  # every kind of failure was recorded
    assert {n["state"] for n in shown["notifications"]} <= {"pending", "failed"}
    serve.cli("alerts", "show", incident_id)
    serve.cli("alerts", "list", "--all")
    serve.cli("alerts", "list", "--all", "--json")
    serve.cli("alerts", "explain", "alertname=DiskFull", "service=checkout", "severity=critical", "--json")
    serve.cli("audit")
    audit = serve.cli("audit", "--json").json()["events"]
    assert [e["action"] for e in audit] == ["alerts.ack"]
    serve.cli("alerts", "show", "inope", expect=None)
    serve.cli("validate")
