"""Build a notifier from its platform-file settings."""

from __future__ import annotations

from pathlib import Path

from tiation.alerting.notifiers.base import Notifier as NotifierProtocol
from tiation.clock import Clock
from tiation.config.notifiers import (
    EmailNotifier,
    Notifier,
    PagerDutyNotifier,
    PhoneNotifier,
    SlackNotifier,
    WebhookNotifier,
)


def make_notifier(
    name: str, settings: Notifier, *, clock: Clock, base: Path | None = None
) -> NotifierProtocol:
    """The notifier named `name` for `settings`; `base` resolves relative `file:` secrets (the platform dir).

    Nothing is resolved or connected here: secrets are read at each send, so an unset variable breaks only the
    sends that need it.
    """
    if base is not None:
        settings = settings.with_secret_base(base)
    kind = settings.settings
    if isinstance(kind, SlackNotifier):
        from tiation.alerting.notifiers.slack import SlackNotifier as Slack

        return Slack(name, kind, clock=clock)
    if isinstance(kind, EmailNotifier):
        from tiation.alerting.notifiers.email import EmailNotifier as Email

        return Email(name, kind, clock=clock)
    if isinstance(kind, WebhookNotifier):
        from tiation.alerting.notifiers.webhook import WebhookNotifier as Webhook

        return Webhook(name, kind, clock=clock)
    if isinstance(kind, PagerDutyNotifier):
        from tiation.alerting.notifiers.pagerduty import PagerDutyNotifier as PagerDuty

        return PagerDuty(name, kind, clock=clock)
    assert isinstance(kind, PhoneNotifier)
    from tiation.alerting.notifiers.phone import PhoneNotifier as Phone

    return Phone(name, kind, clock=clock)
