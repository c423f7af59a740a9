"""Generic webhook: the notification as JSON, signed with HMAC-SHA256.

Headers: `X-Tiation-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>`,
`X-Tiation-Timestamp: <unix seconds>` (the body's `sent_at` holds the same value, so the signature covers it:
receivers reject stale or replayed deliveries), and `Idempotency-Key: <key>` (receivers dedup on it).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from tiation.alerting.notifiers.base import Failed, Notification, Secrets, notification_fields
from tiation.alerting.notifiers.http import HttpNotifier, Request, header_value, json_body
from tiation.config.notifiers import WebhookNotifier as WebhookSettings

SIGNATURE_HEADER = "X-Tiation-Signature"
TIMESTAMP_HEADER = "X-Tiation-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
FORMAT_VERSION = 1


def document(notification: Notification, *, notifier: str, sent_at: int) -> dict[str, Any]:
    """The JSON document a webhook receives (pure)."""
    return {
        "version": FORMAT_VERSION,
        "notifier": notifier,
        **notification_fields(notification),
        "sent_at": sent_at,
    }


def signature(secret: str, body: bytes) -> str:
    """The `X-Tiation-Signature` value for `body`: `sha256=` and the hex HMAC."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Whether `header` is the right signature of `body` (constant-time; for receivers and tests)."""
    return hmac.compare_digest(signature(secret, body), header)


class WebhookNotifier(HttpNotifier[WebhookSettings]):
    """Posts signed JSON to a URL."""

    kind = "webhook"

    def request(self, notification: Notification, secrets: Secrets) -> Request | Failed:
        url = secrets.reveal(self.settings.url)
        key = secrets.reveal(self.settings.secret)
        sent_at = int(self.clock.now().timestamp())
        body = json_body(document(notification, notifier=self.name, sent_at=sent_at))
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(key, body),
            TIMESTAMP_HEADER: str(sent_at),
            IDEMPOTENCY_HEADER: header_value(notification.key),
        }
        return url, body, headers
