"""The email notifier against a real SMTP server (aiosmtpd) on loopback: plain, AUTH, STARTTLS, refusals."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from notify_kit import Authenticator, MailHandler, make_certificate, notification, smtp_server

from fixtures.common import free_port
from tiation.alerting.notifiers import Failed, Notifier, Recipient, RetryLater, Sent, make_notifier
from tiation.alerting.notifiers.base import DEFAULT_RETRY
from tiation.clock import FakeClock
from tiation.config.notifiers import Notifier as NotifierSettings

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)


def email(port: int, **extra: Any) -> Notifier:
    settings = {
        "kind": "email",
        "host": "127.0.0.1",
        "port": port,
        "starttls": False,
        "from": "alerts@tiation.example",
        "to": ["ops@tiation.example", "oncall@tiation.example"],
        "timeout": "2s",
        **extra,
    }
    return make_notifier("mail", NotifierSettings.model_validate(settings), clock=FakeClock(NOW))


def parsed(handler: MailHandler, index: int = 0) -> Message:
    content = handler.messages[index].original_content
    assert isinstance(content, bytes)
    return message_from_bytes(content)


@pytest.fixture
def mail() -> Iterator[tuple[MailHandler, int]]:
    handler = MailHandler()
    with smtp_server(handler) as port:
        yield handler, port


def test_a_channel_message_goes_to_the_to_list(mail: tuple[MailHandler, int]) -> None:
    handler, port = mail
    assert email(port).send(notification()) == Sent("accepted")
    [envelope] = handler.messages
    assert envelope.mail_from == "alerts@tiation.example"
    assert envelope.rcpt_tos == ["ops@tiation.example", "oncall@tiation.example"]
    msg = parsed(handler)
    assert msg["Subject"] == "[critical] HighErrorRate cms"
    assert msg["From"] == "alerts@tiation.example"
    assert msg["Date"] == "Sun, 01 Mar 2026 12:00:05 +0000"
    assert msg["X-Tiation-Key"] == "inc-1/0/slack/ops"
    text = msg.get_payload(decode=True)
    assert isinstance(text, bytes)
    body = text.decode()
    assert "5xx rate above 5% for 5 minutes" in body
    assert "  service: cms" in body
    assert "  runbook_url: https://runbooks.example/5xx" in body
    assert "Link:     https://tiation.example/incidents/inc-1" in body


def test_message_id_is_derived_from_the_key(mail: tuple[MailHandler, int]) -> None:
    handler, port = mail
    notifier = email(port)
    for key in ("inc-1/0/email/ops", "inc-1/0/email/ops", "inc-1/1/email/ops"):
        assert isinstance(notifier.send(notification(key=key)), Sent)
    ids = [parsed(handler, i)["Message-ID"] for i in range(3)]
    assert ids[0] == ids[1] != ids[2]
    assert ids[0].endswith("@tiation.example>")
    threads = {parsed(handler, i)["References"] for i in range(3)}
    assert len(threads) == 1


def test_a_page_goes_to_the_persons_address(mail: tuple[MailHandler, int]) -> None:
    handler, port = mail
    alice = Recipient("Alice", email="alice@tiation.example")
    assert isinstance(email(port).send(notification(recipient=alice, event="escalate")), Sent)
    assert handler.messages[0].rcpt_tos == ["alice@tiation.example"]
    assert parsed(handler)["Subject"] == "Escalated: [critical] HighErrorRate cms"
    assert email(port).send(notification(recipient=Recipient("Bob"))) == Failed(
        "cannot send: person 'Bob' has no email address"
    )
    assert len(handler.messages) == 1


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [("550 5.1.1 no such user", Failed), ("451 4.3.0 try again later", RetryLater)],
)
def test_refused_recipients(mail: tuple[MailHandler, int], reply: str, outcome: type) -> None:
    handler, port = mail
    handler.refuse_rcpt = {"ops@tiation.example": reply, "oncall@tiation.example": reply}
    result = email(port).send(notification())
    assert isinstance(result, outcome)
    assert f"ops@tiation.example ({reply})" in result.reason
    assert handler.messages == []


def test_a_partly_refused_message_is_sent_and_says_who_was_refused(mail: tuple[MailHandler, int]) -> None:
    handler, port = mail
    handler.refuse_rcpt = {"oncall@tiation.example": "550 5.1.1 no such user"}
    assert email(port).send(notification()) == Sent("refused by the server: oncall@tiation.example")
    assert handler.messages[0].rcpt_tos == ["ops@tiation.example"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            "451 4.3.0 queue full",
            RetryLater(DEFAULT_RETRY, "the server replied 451 4.3.0 queue full"),
        ),
        ("554 5.7.1 rejected as spam", Failed("the server replied 554 5.7.1 rejected as spam")),
    ],
)
def test_data_replies_decide(mail: tuple[MailHandler, int], reply: str, expected: object) -> None:
    handler, port = mail
    handler.data_reply = reply
    assert email(port).send(notification()) == expected


def test_login_with_the_password_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_SMTP_PASSWORD", "correct horse")
    handler, auth = MailHandler(), Authenticator("alerts", "correct horse")
    with smtp_server(handler, authenticator=auth) as port:
        assert isinstance(
            email(port, username="alerts", password="env:T_SMTP_PASSWORD").send(notification()), Sent
        )
        monkeypatch.setenv("T_SMTP_PASSWORD", "wrong horse")
        result = email(port, username="alerts", password="env:T_SMTP_PASSWORD").send(notification())
    assert isinstance(result, Failed) and result.reason.startswith("authentication refused: 535")
    assert auth.attempts[0] is True  # smtplib tries each offered mechanism with the wrong password
    assert len(auth.attempts) > 1 and True not in auth.attempts[1:]
    assert len(handler.messages) == 1


def test_starttls_with_a_trusted_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("T_SMTP_PASSWORD", "correct horse")
    handler, auth = MailHandler(), Authenticator("alerts", "correct horse")
    with smtp_server(handler, authenticator=auth, tls=context) as port:
        secure = email(
            port, starttls=True, ca_file=str(cert), username="alerts", password="env:T_SMTP_PASSWORD"
        )
        assert secure.send(notification()) == Sent("accepted")
        untrusted = email(port, starttls=True, username="alerts", password="env:T_SMTP_PASSWORD")
        result = untrusted.send(notification())
    assert isinstance(result, Failed) and result.reason.startswith("TLS certificate not trusted")
    assert auth.attempts == [True]  # the untrusted server never saw the password
    assert len(handler.messages) == 1


def test_starttls_required_but_not_offered_fails_before_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_SMTP_PASSWORD", "correct horse")
    handler, auth = MailHandler(), Authenticator("alerts", "correct horse")
    with smtp_server(handler, authenticator=auth) as port:
        result = email(port, starttls=True, username="alerts", password="env:T_SMTP_PASSWORD").send(
            notification()
        )
    assert result == Failed(
        "the server does not support what is needed: STARTTLS extension not supported by server."
    )
    assert auth.attempts == []
    assert handler.messages == []


def test_a_server_that_is_down_means_retry_later() -> None:
    result = email(free_port()).send(notification())
    assert result == RetryLater(DEFAULT_RETRY, "cannot connect: Connection refused")


def test_a_server_that_never_greets_means_retry_later() -> None:
    with socket.socket() as silent:  # listens (the kernel accepts) but never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        result = email(port, timeout="300ms").send(notification())
    assert result == RetryLater(DEFAULT_RETRY, "no answer within 300ms")
