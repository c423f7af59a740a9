"""Phone call / SMS through a provider's webhook (a generic shape any small adapter can accept).

`POST <url>` with `Authorization: Bearer <token>`, `Idempotency-Key: <key>` and the JSON body
`{"to": "+15550101", "message": "...", "key": "..."}`: `to` is the paged person's phone (or the notifier's
`to` for a message to a channel) with spaces, dashes, dots and parentheses removed; `message` is one line of at
most `max_chars` characters.
"""

from __future__ import annotations

import re
from typing import Any

from tiation.alerting.notifiers.base import Failed, Notification, Secrets, headline
from tiation.alerting.notifiers.http import HttpNotifier, Request, header_value, json_body
from tiation.config.notifiers import PhoneNotifier as PhoneSettings

_SEPARATORS = re.compile(r"[ ().-]")


def number(written: str) -> str:
    """A phone number as written (`+1-555-0101`) in the compact form providers take (`+15550101`)."""
    return _SEPARATORS.sub("", written)


def message(notification: Notification, *, max_chars: int) -> str:
    """The text to read out or send: headline, summary and link, on one line, cut to `max_chars`."""
    parts = [headline(notification)]
    if notification.summary:
        parts.append(notification.summary)
    if notification.url:
        parts.append(notification.url)
    text = " ".join(" — ".join(parts).split())
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def document(notification: Notification, *, to: str, max_chars: int) -> dict[str, Any]:
    """The provider's JSON body (pure)."""
    return {"to": number(to), "message": message(notification, max_chars=max_chars), "key": notification.key}


class PhoneNotifier(HttpNotifier[PhoneSettings]):
    """Asks a provider to call or text a number."""

    kind = "phone"

    def request(self, notification: Notification, secrets: Secrets) -> Request | Failed:
        recipient = notification.recipient
        to = recipient.phone if recipient is not None else self.settings.to
        if not to:
            who = f"person {recipient.name!r} has no phone number" if recipient else "no 'to' number is set"
            return Failed(f"cannot send: {who}")
        url = secrets.reveal(self.settings.url)
        token = secrets.reveal(self.settings.token)
        body = json_body(document(notification, to=to, max_chars=self.settings.max_chars))
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": header_value(notification.key),
        }
        return url, body, headers
