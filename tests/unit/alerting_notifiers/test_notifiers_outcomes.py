"""How answers and errors become `Sent | RetryLater | Failed`, as data; reasons are short, one line, redacted."""

from __future__ import annotations

import smtplib
import ssl
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tiation.alerting.notifiers import Failed, RetryLater, Sent
from tiation.alerting.notifiers.base import DEFAULT_RETRY, MAX_REASON, Secrets, safe_reason
from tiation.alerting.notifiers.email import classify_smtp_error
from tiation.alerting.notifiers.http import classify_error, classify_response, header_value, retry_after
from tiation.redact import register_secret
from tiation.secrets import SecretRef

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (200, {}, b"ok", Sent("HTTP 200")),
        (202, {}, b"{}", Sent("HTTP 202")),
        (204, {}, b"", Sent("HTTP 204")),
        (429, {"retry-after": "17"}, b"", RetryLater(17 * S, "HTTP 429 (rate limited)")),
        (429, {"retry-after": "soon"}, b"", RetryLater(60 * S, "HTTP 429 (rate limited)")),
        (429, {"retry-after": "999999"}, b"", RetryLater(3600 * S, "HTTP 429 (rate limited)")),
        (
            429,
            {"retry-after": "Sun, 01 Mar 2026 12:02:00 GMT"},
            b"",
            RetryLater(120 * S, "HTTP 429 (rate limited)"),
        ),
        (
            503,
            {"retry-after": "Sun, 01 Mar 2026 11:00:00 GMT"},
            b"",
            RetryLater(0 * S, "HTTP 503 from the receiver"),
        ),
        (500, {}, b"boom\n  again", RetryLater(DEFAULT_RETRY, "HTTP 500 from the receiver: boom again")),
        (408, {}, b"", RetryLater(DEFAULT_RETRY, "HTTP 408 from the receiver")),
        (400, {}, b"invalid_payload", Failed("HTTP 400 from the receiver: invalid_payload")),
        (403, {}, b"action_prohibited", Failed("HTTP 403 from the receiver: action_prohibited")),
        (
            301,
            {"location": "https://x"},
            b"",
            Failed("HTTP 301: the receiver redirects elsewhere (not followed; fix the URL)"),
        ),
    ],
)
def test_responses(status: int, headers: dict[str, str], body: bytes, expected: object) -> None:
    assert classify_response(status, headers, body, NOW, Secrets()) == expected


def test_retry_after_forms() -> None:
    assert retry_after(None, NOW) is None
    assert retry_after(" 5 ", NOW) == 5 * S
    assert retry_after("-5", NOW) is None
    assert retry_after("Sun, 01 Mar 2026 12:00:30 GMT", NOW) == 30 * S
    assert retry_after("2026-03-01T12:00:30", NOW) is None


def test_a_long_body_is_cut_to_a_short_reason() -> None:
    result = classify_response(400, {}, b"x" * 10_000, NOW, Secrets())
    assert isinstance(result, Failed)
    assert len(result.reason) <= MAX_REASON and result.reason.endswith("…")


def test_reasons_mask_the_revealed_secrets_and_their_url_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("U_HOOK", "https://hooks.example/services/T0/B0/s3cretpath?sig=abc123def")
    secrets = Secrets()
    assert secrets.reveal(SecretRef("env:U_HOOK")).startswith("https://hooks.example/")
    assert secrets.reveal("plain value") == "plain value"
    body = b"no such hook /services/T0/B0/s3cretpath (sig=abc123def); plain value"
    result = classify_response(404, {}, body, NOW, secrets)
    assert result == Failed("HTTP 404 from the receiver: no such hook <secret> (<secret>); plain value")


def test_safe_reason_uses_the_process_registry_and_credential_shapes() -> None:
    register_secret("registered-token-42")
    text = "got registered-token-42 and postgresql://u:pw@db/x and password=hunter2\nsecond line"
    assert (
        safe_reason(text) == "got <secret> and postgresql://u:<secret>@db/x and password=<secret> second line"
    )


def _request() -> httpx.Request:
    return httpx.Request("POST", "https://hooks.example/services/SECRETPATH")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            httpx.ConnectTimeout("x", request=_request()),
            RetryLater(DEFAULT_RETRY, "connecting timed out after 2s"),
        ),
        (httpx.ReadTimeout("x", request=_request()), RetryLater(DEFAULT_RETRY, "no response within 2s")),
        (
            httpx.WriteTimeout("x", request=_request()),
            RetryLater(DEFAULT_RETRY, "sending timed out after 2s"),
        ),
        (
            httpx.RemoteProtocolError("x", request=_request()),
            RetryLater(DEFAULT_RETRY, "the connection broke before a complete answer"),
        ),
        (
            httpx.UnsupportedProtocol("https://SECRETPATH"),
            Failed("the request cannot be made: the URL or a header value is invalid"),
        ),
        (
            httpx.InvalidURL("bad https://SECRETPATH"),
            Failed("the request cannot be made: the URL or a header value is invalid"),
        ),
    ],
)
def test_request_errors(exc: Exception, expected: object) -> None:
    result = classify_error(exc, 2 * S)
    assert result == expected
    assert "SECRETPATH" not in repr(result)


def test_a_refused_connection_names_the_os_error() -> None:
    exc = httpx.ConnectError("https://hooks.example/services/SECRETPATH")
    exc.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert classify_error(exc, 2 * S) == RetryLater(DEFAULT_RETRY, "cannot connect: Connection refused")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"),
            Failed("authentication refused: 535 5.7.8 bad credentials"),
        ),
        (
            smtplib.SMTPAuthenticationError(454, b"4.7.0 try later"),
            RetryLater(DEFAULT_RETRY, "authentication refused: 454 4.7.0 try later"),
        ),
        (smtplib.SMTPSenderRefused(553, b"not yours", "a@b.c"), Failed("the server replied 553 not yours")),
        (
            smtplib.SMTPDataError(452, b"no space"),
            RetryLater(DEFAULT_RETRY, "the server replied 452 no space"),
        ),
        (
            smtplib.SMTPRecipientsRefused({"b@x.y": (550, b"no"), "a@x.y": (451, b"later")}),
            RetryLater(DEFAULT_RETRY, "every recipient was refused: a@x.y (451 later); b@x.y (550 no)"),
        ),
        (
            smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
            RetryLater(DEFAULT_RETRY, "the server closed the connection"),
        ),
        (
            smtplib.SMTPServerDisconnected("Connection unexpectedly closed: timed out"),
            RetryLater(DEFAULT_RETRY, "no answer within 2s"),
        ),
        (TimeoutError("timed out"), RetryLater(DEFAULT_RETRY, "no answer within 2s")),
        (
            ConnectionRefusedError(111, "Connection refused"),
            RetryLater(DEFAULT_RETRY, "cannot connect: Connection refused"),
        ),
        (
            smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."),
            Failed("the server does not support what is needed: STARTTLS extension not supported by server."),
        ),
        (ssl.SSLError(1, "[SSL] wrong version"), Failed("TLS failed: [SSL] wrong version")),
        (
            UnicodeEncodeError("ascii", "é", 0, 1, "x"),
            Failed("the message cannot be formed: UnicodeEncodeError"),
        ),
    ],
)
def test_smtp_errors(exc: Exception, expected: object) -> None:
    assert classify_smtp_error(exc, "2s") == expected


def test_header_values() -> None:
    assert header_value("inc-1/0/slack/ops") == "inc-1/0/slack/ops"
    assert header_value("inc-1/0/phone/josé") == "inc-1/0/phone/jos%C3%A9"
    assert header_value("a\r\nX-Injected: 1") == "a%0D%0AX-Injected: 1"
