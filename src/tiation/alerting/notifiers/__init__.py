"""Notifiers: Slack, email (SMTP), signed webhook, PagerDuty Events v2, phone/SMS webhook, JSON-lines log, a fake.

Each one's `send(notification)` returns `Sent | RetryLater(after, reason) | Failed(reason)` and never raises for
a delivery problem; the outbox decides what to do next. Concrete notifiers are imported when first built, so
importing this package stays cheap.
"""

from tiation.alerting.notifiers.base import (
    EVENTS,
    Event,
    Failed,
    Notification,
    Notifier,
    NotifierProtocol,
    Recipient,
    RetryLater,
    SendResult,
    Sent,
)
from tiation.alerting.notifiers.factory import make_notifier
from tiation.alerting.notifiers.fake import FakeNotifier

__all__ = [
    "EVENTS",
    "Event",
    "Failed",
    "FakeNotifier",
    "Notification",
    "Notifier",
    "NotifierProtocol",
    "Recipient",
    "RetryLater",
    "SendResult",
    "Sent",
    "make_notifier",
]
