"""Email over SMTP (stdlib smtplib): a plain-text message whose Message-ID is derived from the notification key.

The same key always gives the same Message-ID, so a message the outbox sends twice is one message to the mail
system; `References` names the incident, so mail clients thread an incident's messages. With `starttls` (the
default) credentials never travel in clear: a server without STARTTLS is an error, not a fallback.
SMTP replies decide the outcome: 4xx and a dropped connection retry, 5xx fail.
"""

from __future__ import annotations

import hashlib
import smtplib
import socket
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from tiation.alerting.notifiers.base import (
    DEFAULT_RETRY,
    ConfiguredNotifier,
    Failed,
    Notification,
    RetryLater,
    Secrets,
    SendResult,
    Sent,
    config_failure,
    headline,
    logged,
)
from tiation.config.durations import format_duration
from tiation.config.notifiers import EmailNotifier as EmailSettings
from tiation.errors import TiationError


def message_id(key: str, sender: str) -> str:
    """A Message-ID that depends only on the notification key (and the sender's domain)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"<{digest}@{_domain(sender)}>"


def thread_id(incident_id: str, sender: str) -> str:
    """The id every message of one incident refers to (`References`), so clients show them as one thread."""
    digest = hashlib.sha256(("incident:" + incident_id).encode()).hexdigest()[:40]
    return f"<{digest}@{_domain(sender)}>"


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "tiation.invalid"


def body(notification: Notification, *, notifier: str) -> str:
    """The plain-text body: headline, summary, facts, labels, annotations, link."""
    lines = [headline(notification), ""]
    if notification.summary:
        lines += [notification.summary, ""]
    lines.append(f"Severity: {notification.severity}")
    lines.append(f"Event:    {notification.event}")
    lines.append(f"Incident: {notification.incident_id}")
    if notification.recipient is not None:
        lines.append(f"Paged:    {notification.recipient.name}")
    if notification.url:
        lines.append(f"Link:     {notification.url}")
    for title, mapping in (("Labels", notification.labels), ("Annotations", notification.annotations)):
        if mapping:
            lines += ["", f"{title}:"] + [f"  {k}: {v}" for k, v in sorted(mapping.items())]
    lines += ["", "-- ", f"Sent by tiation (notifier {notifier}); key {notification.key}"]
    return "\n".join(lines) + "\n"


def compose(
    notification: Notification, *, sender: str, to: list[str], now: datetime, notifier: str
) -> EmailMessage:
    """The message for `notification` (pure)."""
    msg = EmailMessage()
    msg["Subject"] = _one_line(headline(notification))
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(notification.key, sender)
    msg["References"] = thread_id(notification.incident_id, sender)
    msg["X-Tiation-Key"] = _one_line(notification.key)
    msg["X-Tiation-Incident"] = _one_line(notification.incident_id)
    msg["X-Tiation-Event"] = notification.event
    msg.set_content(body(notification, notifier=notifier))
    return msg


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _reply(code: int, text: bytes | str) -> str:
    said = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
    return f"{code} {said}".strip()


def _by_code(code: int, what: str) -> SendResult:
    if 400 <= code < 500:
        return RetryLater(DEFAULT_RETRY, what)
    return Failed(what)


def classify_smtp_error(exc: Exception, timeout: str) -> SendResult:
    """What an SMTP failure means for the message (reasons still to be scrubbed)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = exc.recipients
        codes = [code for code, _ in refused.values()]
        listed = "; ".join(f"{addr} ({_reply(code, text)})" for addr, (code, text) in sorted(refused.items()))
        what = f"every recipient was refused: {listed}"
        return RetryLater(DEFAULT_RETRY, what) if any(400 <= c < 500 for c in codes) else Failed(what)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _by_code(exc.smtp_code, f"authentication refused: {_reply(exc.smtp_code, exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, f"the server replied {_reply(exc.smtp_code, exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return Failed(f"the server does not support what is needed: {exc}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):  # smtplib turns a read timeout into this
        if "timed out" in str(exc):
            return RetryLater(DEFAULT_RETRY, f"no answer within {timeout}")
        return RetryLater(DEFAULT_RETRY, "the server closed the connection")
    if isinstance(exc, TimeoutError | socket.timeout):
        return RetryLater(DEFAULT_RETRY, f"no answer within {timeout}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Failed(f"TLS certificate not trusted: {exc.verify_message or exc.reason}")
    if isinstance(exc, ssl.SSLError):
        return Failed(f"TLS failed: {getattr(exc, 'reason', None) or exc.strerror or type(exc).__name__}")
    if isinstance(exc, ValueError):  # includes UnicodeError: an address or header the server cannot take
        return Failed(f"the message cannot be formed: {type(exc).__name__}")
    if isinstance(exc, OSError):
        return RetryLater(DEFAULT_RETRY, f"cannot connect: {exc.strerror or type(exc).__name__}")
    return RetryLater(DEFAULT_RETRY, f"SMTP failed ({type(exc).__name__})")


class EmailNotifier(ConfiguredNotifier[EmailSettings]):
    """Sends plain-text email through an SMTP server."""

    kind = "email"

    def recipients(self, notification: Notification) -> list[str] | Failed:
        """The person's address when paging a person, else the notifier's `to` list."""
        if notification.recipient is not None:
            if notification.recipient.email:
                return [notification.recipient.email]
            return Failed(f"cannot send: person {notification.recipient.name!r} has no email address")
        return list(self.settings.to) or Failed("cannot send: no 'to' addresses are set")

    def send(self, notification: Notification) -> SendResult:
        """Deliver `notification`; never raises for delivery problems."""
        secrets = Secrets()
        to = self.recipients(notification)
        if isinstance(to, Failed):
            return logged(self.name, self.kind, notification, Failed(secrets.reason(to.reason)))
        sender = self.settings.sender
        try:
            msg = compose(notification, sender=sender, to=to, now=self.clock.now(), notifier=self.name)
            refused = self._deliver(msg, sender, to, secrets)
        except TiationError as err:  # a secret that cannot be read
            result: SendResult = config_failure(err, secrets)
        except (smtplib.SMTPException, OSError, ValueError) as exc:
            classified = classify_smtp_error(exc, format_duration(self.settings.timeout))
            if isinstance(classified, RetryLater):
                result = RetryLater(classified.after, secrets.reason(classified.reason))
            elif isinstance(classified, Failed):
                result = Failed(secrets.reason(classified.reason))
            else:
                result = classified
        else:
            listed = ", ".join(sorted(refused))
            result = Sent(secrets.reason(f"refused by the server: {listed}") if refused else "accepted")
        return logged(self.name, self.kind, notification, result)

    def _deliver(
        self, msg: EmailMessage, sender: str, to: list[str], secrets: Secrets
    ) -> dict[str, tuple[int, bytes]]:
        s = self.settings
        username = secrets.reveal(s.username) if s.username is not None else None
        password = secrets.reveal(s.password) if s.password is not None else None
        timeout = s.timeout.total_seconds()
        with smtplib.SMTP(s.host, s.port, local_hostname=socket.gethostname(), timeout=timeout) as smtp:
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=s.ca_file))
                smtp.ehlo()
            if username is not None and password is not None:
                smtp.login(username, password)
            return smtp.send_message(msg, from_addr=sender, to_addrs=to)

    def close(self) -> None:
        """Nothing to close: each send opens and closes its own SMTP connection."""
