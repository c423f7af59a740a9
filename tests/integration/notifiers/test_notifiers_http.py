"""Slack, webhook, PagerDuty and phone notifiers against a real HTTP receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from notify_kit import Receiver, Reply, closed_port_url, notification

from tiation.alerting.notifiers import Failed, Notifier, Recipient, RetryLater, Sent, make_notifier
from tiation.alerting.notifiers.base import DEFAULT_RETRY
from tiation.clock import FakeClock
from tiation.config.notifiers import Notifier as NotifierSettings

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
ALICE = Recipient("Alice Example", email="alice@example.com", chat="U024BE7LH", phone="+1-555-0101")


_BUILT: list[Notifier] = []


def build(settings: dict[str, Any], name: str = "n") -> Notifier:
    notifier = make_notifier(name, NotifierSettings.model_validate(settings), clock=FakeClock(NOW))
    _BUILT.append(notifier)
    return notifier


@pytest.fixture(autouse=True)
def _close_notifiers() -> Iterator[None]:
    yield
    while _BUILT:
        _BUILT.pop().close()  # type: ignore[attr-defined]


@pytest.fixture
def slack(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Notifier:
    monkeypatch.setenv("T_SLACK_URL", receiver.url("/services/T0/B0/xyz"))
    return build({"kind": "slack", "webhook_url": "env:T_SLACK_URL", "timeout": "500ms"}, "ops-slack")


def test_slack_posts_text_and_a_coloured_attachment(slack: Notifier, receiver: Receiver) -> None:
    receiver.default = Reply(200, b"ok")
    assert slack.send(notification(recipient=ALICE)) == Sent("HTTP 200")
    [got] = receiver.requests
    assert got.path == "/services/T0/B0/xyz"
    assert got.headers["content-type"] == "application/json"
    doc = got.json
    assert doc["text"] == "<@U024BE7LH> [critical] HighErrorRate cms"
    [attachment] = doc["attachments"]
    assert attachment["color"] == "#e53935"
    assert attachment["blocks"][0]["text"]["text"] == (
        "*[critical] HighErrorRate cms*\n5xx rate above 5% for 5 minutes"
    )
    fields = [f["text"] for f in attachment["blocks"][1]["fields"]]
    assert "*service*\ncms" in fields
    assert (
        "<https://tiation.example/incidents/inc-1|open the incident>"
        in attachment["blocks"][-1]["elements"][0]["text"]
    )


def test_slack_resolve_is_green_and_says_so(slack: Notifier, receiver: Receiver) -> None:
    assert isinstance(slack.send(notification(event="resolve")), Sent)
    doc = receiver.requests[0].json
    assert doc["text"] == "Resolved: [critical] HighErrorRate cms"
    assert doc["attachments"][0]["color"] == "#43a047"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            Reply(500, b"rollup_error"),
            RetryLater(DEFAULT_RETRY, "HTTP 500 from the receiver: rollup_error"),
        ),
        (
            Reply(503, b"", {"Retry-After": "12"}),
            RetryLater(timedelta(seconds=12), "HTTP 503 from the receiver"),
        ),
        (
            Reply(429, b"rate_limited", {"Retry-After": "7"}),
            RetryLater(timedelta(seconds=7), "HTTP 429 (rate limited): rate_limited"),
        ),
        (Reply(429, b""), RetryLater(timedelta(seconds=60), "HTTP 429 (rate limited)")),
        (Reply(408, b""), RetryLater(DEFAULT_RETRY, "HTTP 408 from the receiver")),
        (Reply(400, b"invalid_payload"), Failed("HTTP 400 from the receiver: invalid_payload")),
        (Reply(410, b"channel_is_archived"), Failed("HTTP 410 from the receiver: channel_is_archived")),
        (Reply(404, b"no_service"), Failed("HTTP 404 from the receiver: no_service")),
    ],
)
def test_status_codes_map_to_outcomes(
    slack: Notifier, receiver: Receiver, reply: Reply, expected: object
) -> None:
    receiver.script(reply)
    assert slack.send(notification()) == expected


def test_retry_after_as_an_http_date_counts_from_the_clock(slack: Notifier, receiver: Receiver) -> None:
    receiver.script(
        Reply(429, b"", {"Retry-After": format_datetime(NOW + timedelta(seconds=95), usegmt=True)})
    )
    result = slack.send(notification())
    assert isinstance(result, RetryLater) and result.after == timedelta(seconds=95)


def test_a_receiver_that_is_down_means_retry_later(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_SLACK_URL", closed_port_url())
    result = build({"kind": "slack", "webhook_url": "env:T_SLACK_URL"}).send(notification())
    assert result == RetryLater(DEFAULT_RETRY, "cannot connect: Connection refused")


def test_a_receiver_slower_than_the_timeout_means_retry_later(slack: Notifier, receiver: Receiver) -> None:
    receiver.script(Reply(200, b"ok", delay=5.0))
    assert slack.send(notification()) == RetryLater(DEFAULT_RETRY, "no response within 500ms")
    assert len(receiver.requests) == 1


def test_an_unset_secret_fails_without_a_request(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("T_UNSET_URL", raising=False)
    result = build({"kind": "slack", "webhook_url": "env:T_UNSET_URL"}).send(notification())
    assert result == Failed("cannot send: secret env:T_UNSET_URL is not set in the environment")
    assert receiver.requests == []


def test_redirects_are_followed_only_on_the_same_host(
    slack: Notifier, receiver: Receiver, other_receiver: Receiver
) -> None:
    receiver.script(Reply(307, b"", {"Location": "/moved"}))
    assert slack.send(notification()) == Sent("HTTP 200")
    assert [r.path for r in receiver.requests] == ["/services/T0/B0/xyz", "/moved"]
    assert receiver.requests[0].body == receiver.requests[1].body

    receiver.script(Reply(308, b"", {"Location": other_receiver.url("/elsewhere")}))
    result = slack.send(notification())
    assert isinstance(result, Failed) and result.reason.startswith(
        "HTTP 308: the receiver redirects elsewhere"
    )
    receiver.script(Reply(302, b"", {"Location": "/moved"}))
    assert isinstance(slack.send(notification()), Failed)
    assert other_receiver.requests == []
    assert len(receiver.requests) == 4


def test_webhook_body_is_signed_and_carries_the_idempotency_key(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_HOOK_URL", receiver.url("/in"))
    monkeypatch.setenv("T_HOOK_SECRET", "s3cr3t-hmac-key")
    hook = build({"kind": "webhook", "url": "env:T_HOOK_URL", "secret": "env:T_HOOK_SECRET"}, "audit-hook")
    assert hook.send(notification(recipient=ALICE, key="inc-1/2/webhook/alice")) == Sent("HTTP 200")
    [got] = receiver.requests
    expected = hmac.new(b"s3cr3t-hmac-key", got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-tiation-signature"] == f"sha256={expected}"
    assert got.headers["x-tiation-timestamp"] == str(int(NOW.timestamp()))
    assert got.headers["idempotency-key"] == "inc-1/2/webhook/alice"
    doc = got.json
    assert doc["sent_at"] == int(NOW.timestamp())
    assert doc["notifier"] == "audit-hook"
    assert doc["recipient"] == {
        "name": "Alice Example",
        "email": "alice@example.com",
        "chat": "U024BE7LH",
        "phone": "+1-555-0101",
    }
    assert (doc["key"], doc["event"], doc["labels"]["service"]) == ("inc-1/2/webhook/alice", "trigger", "cms")
    tampered = got.body.replace(b"cms", b"cmz")
    wrong = hmac.new(b"s3cr3t-hmac-key", tampered, hashlib.sha256).hexdigest()
    assert got.headers["x-tiation-signature"] != f"sha256={wrong}"


def test_a_non_ascii_key_is_percent_encoded_in_the_header(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_HOOK_URL", receiver.url("/in"))
    monkeypatch.setenv("T_HOOK_SECRET", "s3cr3t-hmac-key")
    hook = build({"kind": "webhook", "url": "env:T_HOOK_URL", "secret": "env:T_HOOK_SECRET"})
    assert isinstance(hook.send(notification(key="inc-1/0/webhook/josé")), Sent)
    got = receiver.requests[0]
    assert got.headers["idempotency-key"] == "inc-1/0/webhook/jos%C3%A9"
    assert got.json["key"] == "inc-1/0/webhook/josé"


@pytest.fixture
def pagerduty(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Notifier:
    monkeypatch.setenv("T_PD_KEY", "R0UT1NGKEY0123456789abcdefABCDEF")
    return build({"kind": "pagerduty", "routing_key": "env:T_PD_KEY", "url": receiver.url("/v2/enqueue")})


def test_pagerduty_trigger_event(pagerduty: Notifier, receiver: Receiver) -> None:
    receiver.default = Reply(202, b'{"status":"success","message":"Event processed","dedup_key":"inc-1"}')
    assert pagerduty.send(notification(event="escalate", severity="emergency")) == Sent("HTTP 202")
    doc = receiver.requests[0].json
    assert receiver.requests[0].path == "/v2/enqueue"
    assert (doc["routing_key"], doc["event_action"], doc["dedup_key"]) == (
        "R0UT1NGKEY0123456789abcdefABCDEF",
        "trigger",
        "inc-1",
    )
    payload = doc["payload"]
    assert payload["summary"] == "[critical] HighErrorRate cms — 5xx rate above 5% for 5 minutes"
    assert (payload["severity"], payload["source"], payload["component"], payload["class"]) == (
        "critical",
        "cms-1",
        "cms",
        "HighErrorRate",
    )
    assert payload["custom_details"]["labels"]["alertname"] == "HighErrorRate"
    assert payload["timestamp"] == "2026-03-01T12:00:00+00:00"
    assert doc["links"] == [{"href": "https://tiation.example/incidents/inc-1", "text": "tiation incident"}]


@pytest.mark.parametrize("event", ["acknowledge", "resolve"])
def test_pagerduty_acknowledge_and_resolve_name_only_the_alert(
    pagerduty: Notifier, receiver: Receiver, event: str
) -> None:
    receiver.default = Reply(202, b"{}")
    assert isinstance(pagerduty.send(notification(event=event)), Sent)
    assert receiver.requests[0].json == {
        "routing_key": "R0UT1NGKEY0123456789abcdefABCDEF",
        "event_action": event,
        "dedup_key": "inc-1",
    }


def test_pagerduty_invalid_event_fails_with_its_message(pagerduty: Notifier, receiver: Receiver) -> None:
    receiver.script(Reply(400, b'{"status":"invalid event","message":"Event object is invalid"}'))
    result = pagerduty.send(notification())
    assert result == Failed(
        'HTTP 400 from the receiver: {"status":"invalid event","message":"Event object is invalid"}'
    )


def test_phone_pages_the_persons_number_with_a_bearer_token(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_SMS_TOKEN", "sms-token-1234")
    phone = build(
        {
            "kind": "phone",
            "url": receiver.url("/v1/messages"),
            "token": "env:T_SMS_TOKEN",
            "to": "+44 20 7946 0000",
        }
    )
    assert isinstance(phone.send(notification(recipient=ALICE, key="inc-1/3/phone/alice")), Sent)
    assert isinstance(phone.send(notification()), Sent)
    first, second = receiver.requests
    assert first.headers["authorization"] == "Bearer sms-token-1234"
    assert first.headers["idempotency-key"] == "inc-1/3/phone/alice"
    assert first.json == {
        "to": "+15550101",
        "message": "[critical] HighErrorRate cms — 5xx rate above 5% for 5 minutes — "
        "https://tiation.example/incidents/inc-1",
        "key": "inc-1/3/phone/alice",
    }
    assert second.json["to"] == "+442079460000"


def test_phone_without_a_number_fails_without_a_request(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_SMS_TOKEN", "sms-token-1234")
    phone = build({"kind": "phone", "url": receiver.url("/v1/messages"), "token": "env:T_SMS_TOKEN"})
    assert phone.send(notification(recipient=Recipient("Bob"))) == Failed(
        "cannot send: person 'Bob' has no phone number"
    )
    assert phone.send(notification()) == Failed("cannot send: no 'to' number is set")
    assert receiver.requests == []


def test_file_secrets_are_read_at_each_send(receiver: Receiver, tmp_path: Any) -> None:
    (tmp_path / "hook.url").write_text(receiver.url("/first") + "\n")
    settings = NotifierSettings.model_validate({"kind": "slack", "webhook_url": "file:hook.url"})
    slack = make_notifier("s", settings, clock=FakeClock(NOW), base=tmp_path)
    _BUILT.append(slack)
    assert isinstance(slack.send(notification()), Sent)
    (tmp_path / "hook.url").write_text(receiver.url("/rotated"))
    assert isinstance(slack.send(notification()), Sent)
    assert [r.path for r in receiver.requests] == ["/first", "/rotated"]
