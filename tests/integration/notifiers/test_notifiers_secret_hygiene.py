"""No notifier leaks a secret: planted tokens, webhook URLs and a password never appear in any reason, repr,
exception or log record, through every success and failure mode — even when the receiver quotes the request
(path, headers and body) back in its answer."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from notify_kit import Authenticator, MailHandler, Receiver, Reply, closed_port_url, notification, smtp_server

from tiation.alerting.notifiers import Notifier, Recipient, make_notifier
from tiation.clock import FakeClock
from tiation.config.notifiers import Notifier as NotifierSettings

pytestmark = pytest.mark.integration

SLACK_PATH = "/services/T0/B0/PLANTEDslackPATH7781"
HOOK_QUERY = "token=PLANTEDhookQUERY5521"
HMAC_KEY = "PLANTEDhmacKEY3390"
ROUTING_KEY = "PLANTEDroutingKEY000011112222333"
SMS_TOKEN = "PLANTEDsmsTOKEN4242"
SMTP_PASSWORD = "PLANTEDsmtpPASS8080"
PLANTED = ("PLANTEDslackPATH7781", "PLANTEDhookQUERY5521", HMAC_KEY, ROUTING_KEY, SMS_TOKEN, SMTP_PASSWORD)
NOW = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
ALICE = Recipient("Alice", email="alice@tiation.example", chat="U024BE7LH", phone="+1-555-0101")

HTTP_MODES: list[Reply | None] = [
    Reply(200, echo=True),
    Reply(202, echo=True),
    Reply(500, echo=True),
    Reply(503, echo=True, headers={"Retry-After": "oops"}),
    Reply(429, echo=True, headers={"Retry-After": "3"}),
    Reply(400, echo=True),
    Reply(401, echo=True),
    Reply(404, echo=True),
    Reply(302, echo=True, headers={"Location": "https://elsewhere.example/?" + HOOK_QUERY}),
    Reply(200, delay=3.0),
    None,  # the receiver is down
]


def _settings(kind: str, url: str) -> dict[str, Any]:
    common = {"timeout": "300ms"}
    if kind == "slack":
        return {"kind": "slack", "webhook_url": "env:H_SLACK_URL", **common}
    if kind == "webhook":
        return {"kind": "webhook", "url": "env:H_HOOK_URL", "secret": "env:H_HMAC", **common}
    if kind == "pagerduty":
        return {"kind": "pagerduty", "routing_key": "env:H_PD_KEY", "url": url, **common}
    return {"kind": "phone", "url": url, "token": "env:H_SMS_TOKEN", "to": "+1-555-0199", **common}


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> Callable[[str, bool], Notifier]:
    monkeypatch.setenv("H_HMAC", HMAC_KEY)
    monkeypatch.setenv("H_PD_KEY", ROUTING_KEY)
    monkeypatch.setenv("H_SMS_TOKEN", SMS_TOKEN)

    def build(kind: str, down: bool) -> Notifier:
        base = closed_port_url("") if down else receiver.url("")
        monkeypatch.setenv("H_SLACK_URL", base + SLACK_PATH)
        monkeypatch.setenv("H_HOOK_URL", f"{base}/in?{HOOK_QUERY}")
        settings = NotifierSettings.model_validate(_settings(kind, base + "/enqueue"))
        return make_notifier(f"{kind}-ops", settings, clock=FakeClock(NOW))

    return build


@pytest.fixture
def outputs(caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.set_level(logging.DEBUG)
    return []


def assert_clean(seen: list[str], caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every output (results, reprs, log records at DEBUG) is free of every planted secret; returns them all."""
    ours = [r for r in caplog.records if not r.name.startswith("mail.")]  # not the test SMTP server's own log
    texts = [*seen, *(r.getMessage() for r in ours), *(caplog.handler.format(r) for r in ours)]
    leaks = [(token, text[:200]) for text in texts for token in PLANTED if token in text]
    assert leaks == []
    return texts


def _drive(notifier: Notifier, seen: list[str], count: int = 1) -> None:
    for event in ("trigger", "resolve")[:count]:
        try:
            result = notifier.send(notification(event=event, recipient=ALICE))
        except Exception as exc:  # a notifier must not raise; if it does, its text must still be clean
            seen += [str(exc), repr(exc)]
            raise
        seen += [repr(result), str(getattr(result, "reason", "")), repr(notifier)]
    notifier.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["slack", "webhook", "pagerduty", "phone"])
def test_http_notifiers_never_show_their_secrets(
    kind: str,
    receiver: Receiver,
    planted: Callable[[str, bool], Notifier],
    outputs: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    for mode in HTTP_MODES:
        if mode is not None:
            receiver.script(mode, mode)
        _drive(planted(kind, mode is None), outputs, count=2)
    quoted = b"".join(r.body + str(r.headers).encode() + r.path.encode() for r in receiver.requests)
    # the secrets did reach the receiver (so its quoting answers held them) ...
    used = [t for t in PLANTED if t.encode() in quoted]
    assert used, "the planted secrets were never sent, so this test could not catch a leak"
    texts = assert_clean(outputs, caplog)
    # ... and the reasons and httpx's request log show where they were masked
    assert any("<secret>" in text for text in outputs)
    secret_url = kind in ("slack", "webhook")
    requests_logged = [text for text in texts if "HTTP Request: POST" in text]
    assert requests_logged
    assert all(("HTTP Request: POST <secret>" in text) == secret_url for text in requests_logged)


def test_email_never_shows_its_password(
    monkeypatch: pytest.MonkeyPatch, outputs: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("H_SMTP_PASSWORD", SMTP_PASSWORD)

    def email(port: int, **extra: Any) -> Notifier:
        settings = {
            "kind": "email",
            "host": "127.0.0.1",
            "port": port,
            "starttls": False,
            "from": "alerts@tiation.example",
            "username": "alerts",
            "password": "env:H_SMTP_PASSWORD",
            "timeout": "300ms",
            **extra,
        }
        return make_notifier("mail", NotifierSettings.model_validate(settings), clock=FakeClock(NOW))

    handler = MailHandler()
    with smtp_server(handler, authenticator=Authenticator("alerts", SMTP_PASSWORD)) as good:
        _drive(email(good), outputs, count=2)
        _drive(email(good, starttls=True), outputs)
        handler.refuse_rcpt = {"alice@tiation.example": f"550 no such user {SMTP_PASSWORD}"}
        _drive(email(good), outputs)
        handler.refuse_rcpt = {}
        handler.data_reply = f"554 rejected {SMTP_PASSWORD}"
        _drive(email(good), outputs)
    with smtp_server(MailHandler(), authenticator=Authenticator("alerts", "another")) as wrong:
        _drive(email(wrong), outputs)
    _drive(email(closed_port()), outputs)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        _drive(email(silent.getsockname()[1]), outputs)
    assert len(handler.messages) == 2
    assert_clean(outputs, caplog)
    assert sum("<secret>" in text for text in outputs) >= 2  # the quoting replies were masked


def closed_port() -> int:
    return int(closed_port_url("").rsplit(":", 1)[1])
