"""The notifier interface: a `Notification` in, `Sent | RetryLater | Failed` out.

A notifier delivers one notification synchronously with a bounded timeout and never raises for a delivery
problem: it says what happened and what the caller (the outbox) should do next — nothing, try again after a
delay, or give up. Every `reason` is short, one line and safe to store and print: it never holds a webhook URL,
token, routing key, password or request body, and it passes through `tiation.redact`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

from tiation.errors import TiationError
from tiation.redact import MASK, redact
from tiation.secrets import SecretRef

if TYPE_CHECKING:
    from tiation.clock import Clock
    from tiation.config.oncall import Person

Event = Literal["trigger", "escalate", "acknowledge", "resolve", "repeat"]
EVENTS: tuple[Event, ...] = ("trigger", "escalate", "acknowledge", "resolve", "repeat")

DEFAULT_RETRY = timedelta(seconds=1)
"""Delay suggested after a 5xx, a refused connection or a timeout: the least wait; the outbox backs off
exponentially from it (1 s, 2 s, 4 s … 5 min), so a receiver that returns is reached within seconds."""
RATE_LIMIT_RETRY = timedelta(seconds=60)
"""Delay suggested after a 429 without a usable Retry-After."""
MAX_RETRY_AFTER = timedelta(hours=1)
"""A receiver's Retry-After is honoured up to this."""
MAX_REASON = 200
_MIN_SECRET = 4  # as tiation.redact: shorter values would mask ordinary words
_MIN_URL_PART = 8  # a shorter path (`/`, `/hook`) is not where a URL keeps its token

log = logging.getLogger("tiation.alerting.notifiers")


@dataclass(frozen=True)
class Recipient:
    """A person being paged, with the ways to reach them."""

    name: str
    email: str | None = None
    chat: str | None = None
    phone: str | None = None

    @classmethod
    def from_person(cls, person: Person) -> Recipient:
        """The recipient for a `people:` entry of the platform file."""
        return cls(name=person.name, email=person.email, chat=person.chat, phone=person.phone)


@dataclass(frozen=True)
class Notification:
    """One message to deliver, for one incident, step and recipient."""

    key: str
    """Idempotency key: incident id + step index + channel + recipient; receivers can dedup on it."""
    incident_id: str
    event: Event
    title: str
    """E.g. `[critical] HighErrorRate cms`."""
    summary: str
    severity: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    recipient: Recipient | None
    """The person paged, or None for a message to a channel."""
    created_at: datetime
    url: str | None = None
    """A link back to the incident."""


@dataclass(frozen=True)
class Sent:
    """Delivered (the receiver accepted it)."""

    detail: str = ""


@dataclass(frozen=True)
class RetryLater:
    """Not delivered now; trying again after `after` may succeed."""

    after: timedelta
    reason: str


@dataclass(frozen=True)
class Failed:
    """Not delivered, and trying the same message again cannot help."""

    reason: str


SendResult = Sent | RetryLater | Failed


def notification_fields(notification: Notification) -> dict[str, Any]:
    """The notification as JSON-ready fields (the body of a webhook, a line of the log notifier)."""
    recipient = notification.recipient
    return {
        "key": notification.key,
        "incident_id": notification.incident_id,
        "event": notification.event,
        "title": notification.title,
        "summary": notification.summary,
        "severity": notification.severity,
        "labels": dict(notification.labels),
        "annotations": dict(notification.annotations),
        "recipient": None
        if recipient is None
        else {
            "name": recipient.name,
            "email": recipient.email,
            "chat": recipient.chat,
            "phone": recipient.phone,
        },
        "created_at": notification.created_at.isoformat(),
        "url": notification.url,
    }


class Notifier(Protocol):
    """What the pipeline needs of a notifier."""

    name: str

    def send(self, notification: Notification) -> SendResult:
        """Deliver `notification` (synchronously, within a bounded time); never raises for delivery problems."""
        ...


NotifierProtocol = Notifier

SettingsT = TypeVar("SettingsT")


class ConfiguredNotifier(Generic[SettingsT]):
    """What every configured notifier keeps: its name, its `notifiers:` settings and the clock."""

    kind = "notifier"

    def __init__(self, name: str, settings: SettingsT, *, clock: Clock) -> None:
        self.name = name
        self.settings = settings
        self.clock = clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def safe_reason(text: str, *, secrets: Iterable[str] = ()) -> str:
    """`text` as a short single line with `secrets` and every registered secret or credential shape masked."""
    for value in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(value, MASK)
    line = " ".join(redact(text).split())
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"


class Secrets:
    """The secret values one send revealed, so that every reason can be scrubbed of them."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def reveal(self, value: str | SecretRef) -> str:
        """The value of a secret reference (registered for redaction), or a plain value as written."""
        if not isinstance(value, SecretRef):
            return value
        text = value.reveal()
        for part in (text, *_url_parts(text)):
            if len(part.strip()) >= _MIN_SECRET:
                self.values.append(part)
        return text

    def reason(self, text: str) -> str:
        """`safe_reason` with these secrets masked too."""
        return safe_reason(text, secrets=self.values)


def _url_parts(value: str) -> list[str]:
    """The path and query of a secret URL, masked on their own too (a receiver may quote only its path)."""
    if "://" not in value:
        return []
    parts = urlsplit(value.strip())
    return [p for p in (parts.path, parts.query) if len(p) >= _MIN_URL_PART]


def config_failure(err: TiationError, secrets: Secrets) -> Failed:
    """A secret that cannot be read (unset variable, missing file): sending cannot work until it is fixed."""
    return Failed(secrets.reason(f"cannot send: {err.message}"))


def logged(name: str, kind: str, notification: Notification, result: SendResult) -> SendResult:
    """Log the outcome (at DEBUG when sent, INFO otherwise) and return it."""
    if isinstance(result, Sent):
        log.debug("%s notifier %s: sent %s", kind, name, notification.key)
    elif isinstance(result, RetryLater):
        after = result.after.total_seconds()
        log.info("%s notifier %s: retry %s in %.0fs: %s", kind, name, notification.key, after, result.reason)
    else:
        log.info("%s notifier %s: failed %s: %s", kind, name, notification.key, result.reason)
    return result


EVENT_WORDS: Mapping[Event, str] = {
    "trigger": "",
    "escalate": "Escalated: ",
    "repeat": "Still firing: ",
    "acknowledge": "Acknowledged: ",
    "resolve": "Resolved: ",
}
"""How each event reads in front of a title."""


def headline(notification: Notification) -> str:
    """The title with the event in front (`Resolved: [critical] HighErrorRate cms`)."""
    return EVENT_WORDS[notification.event] + notification.title
