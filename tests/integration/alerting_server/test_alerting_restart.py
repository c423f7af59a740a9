"""The real `tiation serve` (subprocess) keeping its promises across a restart, a notifier outage, and through
its management API.

- Restart mid-escalation: SIGTERM after step 1 reached the receiver, stay down past step 2's due time, start
  again: step 2 is caught up within 5 s of the restart, step 3 comes at its due time, and every step reaches
  the receiver exactly once (counted by idempotency key).
- Outage: the receiver's port is closed while three pages and three resolutions fall due; it comes back after
  ~10 s and gets all six, in the order they were queued, each once.
- Management API: acknowledge with and without the bearer token, the iCal feed with `?token=`, an override
  added over HTTP that `tiation audit` shows with the token's actor name.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
from serve_kit import Hit, Receiver, Serve, StartServe, closed_port, servers, signed_by, wait_for

from tiation.server.auth import token_digest

pytestmark = pytest.mark.integration

INTAKE_TOKEN = "restart-intake-token-6c1f"
API_TOKEN = "restart-api-token-91ab"
HOOK_SECRET = "restart-hook-secret-0d7e"
LABELS = {"alertname": "DiskFull", "service": "checkout", "severity": "critical"}

PLATFORM = """\
version: 1
project: {name: alerting-restart}
environments: {production: {target: fake}}
services: {checkout: {port: 5000}}
people:
  ann: {name: Ann, email: ann@example.com}
  bob: {name: Bob, email: bob@example.com}
  cid: {name: Cid, email: cid@example.com}
notifiers:
  hook: {kind: webhook, url: env:R_HOOK_URL, secret: env:R_HOOK_SECRET, timeout: 2s}
server:
  host: 127.0.0.1
  port: {port}
  api_tokens_sha256: {ops: "API_DIGEST"}
oncall:
  schedules:
    primary:
      time_zone: UTC
      layers:
        - name: weekly
          start: 2024-01-01T00:00:00Z
          rotation: 1w
          members: [ann, bob, cid]
alerting:
  intake:
    generic: {tokens_sha256: ["INTAKE_DIGEST"]}
  severities:
    critical: {channels: [], escalation_delay: 2s}
  default_severity: critical
  policies:
    three:
      steps:
        - notify: [{person: ann, via: [hook]}]
        - notify: [{person: bob, via: [hook]}]
          wait: STEP2_WAIT
        - notify: [{person: cid, via: [hook]}]
  default_policy: three
"""


def platform(step2_wait: str = "2s") -> str:
    return (
        PLATFORM.replace("API_DIGEST", token_digest(API_TOKEN))
        .replace("INTAKE_DIGEST", token_digest(INTAKE_TOKEN))
        .replace("STEP2_WAIT", step2_wait)
    )


@pytest.fixture
def start(tmp_path: Path) -> Iterator[StartServe]:
    with servers(tmp_path / "serve") as start_serve:
        yield start_serve


def hook_env(receiver: Receiver) -> dict[str, str]:
    return {"R_HOOK_URL": receiver.url("/pages"), "R_HOOK_SECRET": HOOK_SECRET, "TIATION_ACTOR": "tester"}


def post_alert(serve: Serve, status: str = "firing") -> str:
    response = httpx.post(
        serve.base + "/api/v1/intake/generic",
        json={"status": status, "labels": LABELS, "annotations": {"summary": "disk 97% full"}},
        headers={"Authorization": f"Bearer {INTAKE_TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    incidents: list[str] = response.json()["incidents"]
    assert len(incidents) == 1
    return incidents[0]


def hits_with(receiver: Receiver, key: str) -> list[Hit]:
    return [h for h in receiver.received() if h.key == key]


def due_times(shown: dict[str, Any]) -> dict[int, float]:
    return {s["ordinal"]: datetime.fromisoformat(s["due_at"]).timestamp() for s in shown["steps"]}


def test_a_restart_mid_escalation_catches_up_and_sends_every_step_exactly_once(
    start: StartServe,
) -> None:
    receiver = Receiver().start()
    try:
        # Step 3 is due 5 s after step 2, so that it normally falls due after the restart (and tests the
        # timer, not the catch-up).
        serve = start(platform(step2_wait="5s"), env=hook_env(receiver))
        incident_id = post_alert(serve)
        keys = [f"{incident_id}:step{n}:hook:{p}" for n, p in enumerate(("ann", "bob", "cid"))]
        wait_for("step 1 to reach the receiver", lambda: hits_with(receiver, keys[0]), timeout=30)
        assert serve.stop() == 0

        shown = serve.incident(incident_id)
        assert [s["state"] for s in shown["steps"]] == ["fired", "pending", "pending"]
        due = due_times(shown)
        assert due[1] - due[0] == pytest.approx(2.0) and due[2] - due[1] == pytest.approx(5.0)
        while time.time() < due[1] + 0.5:  # down past step 2's due time
            time.sleep(0.1)
        assert [h.key for h in receiver.received()] == keys[:1]  # nobody sent step 2 while down

        serve.start()
        step2 = wait_for("step 2 after the restart", lambda: hits_with(receiver, keys[1]), timeout=30)[0]
        assert step2.at - serve.ready_at <= 5.0, "catch-up took longer than 5 s after the restart"
        step3 = wait_for("step 3", lambda: hits_with(receiver, keys[2]), timeout=30)[0]
        assert step3.at >= due[2], "step 3 came before its due time"
        # on time: within 5 s of its due time (or of the restart, when a slow start made it a catch-up)
        assert step3.at - max(due[2], serve.ready_at) <= 5.0, "step 3 came late"
        time.sleep(2.5)  # anything sent twice would have arrived by now
        assert serve.stop() == 0
    finally:
        receiver.close()

    hits = receiver.received()
    assert [h.key for h in hits] == keys  # each step once, in order
    assert [h.json["event"] for h in hits] == ["trigger", "escalate", "escalate"]
    assert [h.json["recipient"]["name"] for h in hits] == ["Ann", "Bob", "Cid"]
    assert all(signed_by(HOOK_SECRET, h) and h.path == "/pages" for h in hits)
    shown = serve.incident(incident_id)
    assert [s["state"] for s in shown["steps"]] == ["fired", "fired", "fired"]
    assert [(n["state"], n["attempts"]) for n in shown["notifications"]] == [("sent", 1)] * 3
    escalations = [e["reason"] for e in shown["timeline"] if e["stage"] == "escalate"]
    assert len(escalations) == 4  # the plan, and one line per fired step
    assert escalations[2].startswith("step 2 round 1: notified bob via hook")
    assert "serving on" in serve.log() and serve.log().count("tiation.server: stopped") == 2


def test_a_receiver_down_for_a_while_gets_every_message_in_order(start: StartServe) -> None:
    receiver = Receiver(closed_port())  # not listening yet: connections are refused
    try:
        serve = start(platform(), env=hook_env(receiver))
        incident_id = post_alert(serve)
        opened = time.time()

        def all_fired() -> bool:
            return [s["state"] for s in serve.incident(incident_id)["steps"]] == ["fired"] * 3

        wait_for("the three steps to fire while the receiver is down", all_fired, timeout=30, interval=0.5)
        assert post_alert(serve, status="resolved") == incident_id  # resolved while the receiver is down
        shown = serve.incident(incident_id)
        assert shown["state"] == "resolved"
        queued = [(n["event"], n["to"]) for n in shown["notifications"]]
        assert queued == [
            ("trigger", "Ann"),
            ("escalate", "Bob"),
            ("escalate", "Cid"),
            ("resolve", "Ann"),
            ("resolve", "Bob"),
            ("resolve", "Cid"),
        ]
        head = shown["notifications"][0]
        assert head["state"] == "pending" and head["attempts"] >= 1
        assert head["last_error"] == "cannot connect: Connection refused"
        assert {n["state"] for n in shown["notifications"]} == {"pending"}

        while time.time() < opened + 10:
            time.sleep(0.1)
        receiver.start()
        back = time.time()
        wait_for(
            lambda: f"all six messages after the receiver came back (got {len(receiver.received())})",
            lambda: len(receiver.received()) >= 6,
            timeout=90,  # the outbox retries a refused connection after 30 s, then backs off
        )
        time.sleep(2.0)  # anything sent twice would have arrived by now
        assert serve.stop() == 0
    finally:
        receiver.close()

    hits = receiver.received()
    assert all(h.at >= back for h in hits)
    assert [(h.json["event"], h.json["recipient"]["name"]) for h in hits] == queued  # in order, none lost
    assert len({h.key for h in hits}) == 6  # none twice
    assert all(signed_by(HOOK_SECRET, h) for h in hits)
    notifications = serve.incident(incident_id)["notifications"]
    assert {n["state"] for n in notifications} == {"sent"}
    assert notifications[0]["attempts"] >= 2 and notifications[-1]["attempts"] == 1


def _api(serve: Serve, method: str, path: str, token: str | None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.request(method, serve.base + path, headers=headers, timeout=10, **kwargs)


def test_the_management_api_needs_its_token_and_is_audited(start: StartServe) -> None:
    receiver = Receiver().start()
    try:
        serve = start(platform(), env=hook_env(receiver))
        incident_id = post_alert(serve)
        ack = f"/api/v1/incidents/{incident_id}/ack"
        for token in (None, "wrong-token", INTAKE_TOKEN, API_TOKEN + "x"):
            refused = _api(serve, "POST", ack, token)
            assert refused.status_code == 401, refused.text
            assert refused.headers["www-authenticate"] == "Bearer"
            assert set(refused.json()) == {"error", "field"}
        assert _api(serve, "GET", "/api/v1/incidents", None).status_code == 401
        listed = _api(serve, "GET", "/api/v1/incidents", API_TOKEN)
        assert listed.status_code == 200
        assert [(i["id"], i["state"]) for i in listed.json()] == [(incident_id, "triggered")]

        done = _api(serve, "POST", ack, API_TOKEN)
        assert done.status_code == 200, done.text
        assert (done.json()["state"], done.json()["acknowledged_by"]) == ("acknowledged", "ops")
        again = _api(serve, "POST", ack, API_TOKEN)
        assert again.status_code == 409
        assert _api(serve, "POST", "/api/v1/incidents/inope/ack", API_TOKEN).status_code == 404
        wait_for(
            "the acknowledgement to reach the paged person",
            lambda: [h for h in receiver.received() if h.json["event"] == "acknowledge"],
            timeout=30,
        )

        # the calendar: ?token= for calendar apps, nothing without it
        assert _api(serve, "GET", "/api/v1/oncall/primary.ics", None).status_code == 401
        assert httpx.get(serve.base + "/api/v1/oncall/primary.ics?token=nope", timeout=10).status_code == 401
        feed = httpx.get(serve.base + f"/api/v1/oncall/primary.ics?token={API_TOKEN}", timeout=10)
        assert feed.status_code == 200
        assert feed.headers["content-type"].startswith("text/calendar")
        calendar = icalendar.Calendar.from_ical(feed.content)
        events = list(calendar.walk("VEVENT"))
        assert events, "no shifts in the feed"
        assert {str(e["summary"]) for e in events} <= {
            f"On call: {n} (primary)" for n in ("Ann", "Bob", "Cid")
        }
        starts = sorted(e.decoded("dtstart") for e in events)
        assert all(later - earlier == timedelta(weeks=1) for earlier, later in itertools.pairwise(starts))

        # an override over HTTP, audited under the token's name
        begin = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
        body = {"person": "cid", "start": begin.isoformat(), "end": (begin + timedelta(hours=6)).isoformat()}
        overrides = "/api/v1/oncall/primary/overrides"
        added = _api(serve, "POST", overrides, API_TOKEN, json={**body, "reason": "swap"})
        assert added.status_code == 201, added.text
        assert (added.json()["schedule"], added.json()["person"]) == ("primary", "cid")
        for token in (None, "wrong-token"):
            assert _api(serve, "POST", overrides, token, json=body).status_code == 401
        bad = {**body, "start": "next tuesday"}
        assert _api(serve, "POST", overrides, None, json=bad).status_code == 401  # who asks comes first
        refused = _api(serve, "POST", overrides, API_TOKEN, json=bad)
        assert refused.status_code == 422 and refused.json()["field"] == "start"
        at = (begin + timedelta(hours=1)).isoformat()
        who = _api(serve, "GET", "/api/v1/oncall/primary/who", API_TOKEN, params={"at": at})
        assert who.json()["person"] == "cid" and who.json()["source"].startswith("override")
        assert serve.stop() == 0
    finally:
        receiver.close()

    events_ = serve.cli("audit", "--json").json()["events"]
    by_action = {e["action"]: e for e in events_}
    assert by_action["alerts.ack"]["actor"] == "ops"
    assert by_action["alerts.ack"]["details"]["incident"] == incident_id
    override = by_action["oncall.override.add"]
    assert override["actor"] == "ops"
    assert (override["details"]["schedule"], override["details"]["person"]) == ("primary", "cid")
    assert (
        len([e for e in events_ if e["action"] == "oncall.override.add"]) == 1
    )  # the refused ones left none
    assert "oncall.override.add" in serve.cli("audit").stdout
    [shift] = serve.cli("oncall", "who", "primary", "--at", at, "--json").json()["on_call"]
    assert shift["person"] == "cid" and shift["source"].startswith("override")
    assert json.dumps(events_).count(API_TOKEN) == 0
