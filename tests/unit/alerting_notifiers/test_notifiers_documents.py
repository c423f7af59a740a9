"""What each notifier sends, as pure data: Slack blocks, PagerDuty events, webhook documents, SMS text, email."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from notifier_samples import sample

from tiation.alerting.notifiers import EVENTS, Recipient, email, pagerduty, phone, slack, webhook


@pytest.mark.parametrize(
    ("chat", "expected"),
    [
        ("U024BE7LH", "<@U024BE7LH>"),
        ("@W0123ABCD", "<@W0123ABCD>"),
        ("@primary-engineer", "@primary-engineer"),
        ("<!channel>", "@&lt;!channel&gt;"),
        (None, None),
        ("", None),
    ],
)
def test_slack_mentions(chat: str | None, expected: str | None) -> None:
    assert slack.mention(chat) == expected


@pytest.mark.parametrize(
    ("event", "severity", "colour"),
    [
        ("trigger", "emergency", "#b71c1c"),
        ("escalate", "critical", "#e53935"),
        ("repeat", "warning", "#fb8c00"),
        ("trigger", "info", "#1e88e5"),
        ("trigger", "weird", "#9e9e9e"),
        ("acknowledge", "critical", "#757575"),
        ("resolve", "critical", "#43a047"),
    ],
)
def test_slack_colours(event: str, severity: str, colour: str) -> None:
    assert slack.colour(sample(event=event, severity=severity)) == colour


def test_slack_payload_escapes_and_limits_fields() -> None:
    labels = {f"l{i:02}": f"v{i}" for i in range(14)}
    doc = slack.payload(
        sample(title="[warning] a<b & c>d", labels=labels, recipient=Recipient("P", chat="@pe"))
    )
    assert doc["text"] == "@pe [warning] a&lt;b &amp; c&gt;d"
    blocks = doc["attachments"][0]["blocks"]
    assert blocks[0]["text"]["text"].startswith("*[warning] a&lt;b &amp; c&gt;d*\n")
    assert len(blocks[1]["fields"]) == 10
    assert blocks[2]["text"]["text"] == "*description*: errors &lt;b&gt;&amp;&lt;/b&gt; timeouts"
    assert blocks[3]["elements"][0]["text"] == (
        "incident `inc-7` · trigger · <https://tiation.example/incidents/inc-7|open the incident>"
    )


def test_slack_payload_without_labels_annotations_or_link() -> None:
    doc = slack.payload(sample(labels={}, annotations={}, url=None))
    types = [b["type"] for b in doc["attachments"][0]["blocks"]]
    assert types == ["section", "context"]
    assert doc["attachments"][0]["blocks"][1]["elements"][0]["text"] == "incident `inc-7` · trigger"


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("emergency", "critical"),
        ("critical", "critical"),
        ("warning", "warning"),
        ("info", "info"),
        ("odd", "error"),
    ],
)
def test_pagerduty_severities(severity: str, expected: str) -> None:
    doc = pagerduty.event(sample(severity=severity), routing_key="k", source=None)
    assert doc["payload"]["severity"] == expected


@pytest.mark.parametrize("event", EVENTS)
def test_pagerduty_actions(event: str) -> None:
    doc = pagerduty.event(sample(event=event), routing_key="k", source=None)
    expected = {"trigger": "trigger", "escalate": "trigger", "repeat": "trigger"}.get(event, event)
    assert doc["event_action"] == expected
    assert doc["dedup_key"] == "inc-7"
    assert ("payload" in doc) == (expected == "trigger")


def test_pagerduty_trigger_payload() -> None:
    doc = pagerduty.event(sample(recipient=Recipient("Alice")), routing_key="k", source=None)
    payload = doc["payload"]
    assert (payload["source"], payload["component"], payload["group"], payload["class"]) == (
        "cms-1",
        "cms",
        "cms-web",
        "HighErrorRate",
    )
    assert payload["custom_details"]["paged"] == "Alice"
    assert payload["custom_details"]["key"] == "inc-7/0/ops/-"
    assert doc["client_url"] == "https://tiation.example/incidents/inc-7"
    assert pagerduty.event(sample(), routing_key="k", source="edge-1")["payload"]["source"] == "edge-1"
    assert pagerduty.event(sample(labels={}), routing_key="k", source=None)["payload"]["source"] == "tiation"


def test_pagerduty_limits() -> None:
    long_id = "i" * 300
    key = pagerduty.dedup_key(long_id)
    assert len(key) <= 255 and key == pagerduty.dedup_key(long_id) != pagerduty.dedup_key(long_id + "x")
    assert pagerduty.dedup_key("inc-7") == "inc-7"
    summary = pagerduty.event(sample(summary="s" * 2000), routing_key="k", source=None)["payload"]["summary"]
    assert len(summary) == 1024 and summary.endswith("…")


def test_webhook_document_and_signature() -> None:
    created = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    doc = webhook.document(sample(created_at=created), notifier="hook", sent_at=1772366405)
    assert doc["version"] == 1
    assert doc["created_at"] == "2026-03-01T12:00:00+00:00"
    assert doc["recipient"] is None and doc["sent_at"] == 1772366405
    body = b'{"a":1}'
    expected = "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert webhook.signature("k3y", body) == expected
    assert webhook.verify("k3y", body, expected)
    assert not webhook.verify("k3y", b'{"a":2}', expected)
    assert not webhook.verify("other", body, expected)


def test_phone_numbers_and_messages() -> None:
    assert phone.number("+1-555-0101") == "+15550101"
    assert phone.number("+44 (20) 7946.0000") == "+442079460000"
    text = phone.message(sample(event="escalate"), max_chars=300)
    assert text == (
        "Escalated: [critical] HighErrorRate cms — 5xx rate above 5% for 5 minutes — "
        "https://tiation.example/incidents/inc-7"
    )
    short = phone.message(sample(summary="line one\nline two " * 20), max_chars=60)
    assert len(short) == 60 and short.endswith("…") and "\n" not in short
    doc = phone.document(sample(), to="+1 555 0100", max_chars=300)
    assert (doc["to"], doc["key"]) == ("+15550100", "inc-7/0/ops/-")


def test_email_compose() -> None:
    now = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
    n = sample(key="inc-7/0/mail/ops\r\nBcc: evil@x.y", event="resolve")
    msg = email.compose(n, sender="alerts@tiation.example", to=["a@x.y", "b@x.y"], now=now, notifier="mail")
    assert msg["Subject"] == "Resolved: [critical] HighErrorRate cms"
    assert msg["To"] == "a@x.y, b@x.y"
    assert msg["Bcc"] is None
    assert msg["X-Tiation-Key"] == "inc-7/0/mail/ops Bcc: evil@x.y"
    assert msg["Message-ID"] == email.message_id(n.key, "alerts@tiation.example")
    assert msg["References"] == email.thread_id("inc-7", "alerts@tiation.example")
    body = msg.get_content()
    assert body.startswith("Resolved: [critical] HighErrorRate cms\n\n5xx rate above 5% for 5 minutes\n")
    assert "Labels:\n  alertname: HighErrorRate\n  instance: cms-1\n" in body
    assert "Annotations:\n  description: errors <b>&</b> timeouts\n" in body


def test_message_ids_depend_only_on_the_key() -> None:
    a = email.message_id("inc-7/0/mail/ops", "alerts@tiation.example")
    assert a == email.message_id("inc-7/0/mail/ops", "alerts@tiation.example")
    assert a != email.message_id("inc-7/1/mail/ops", "alerts@tiation.example")
    assert a.startswith("<") and a.endswith("@tiation.example>")
