"""Build a notifier from its platform-file settings.

`IMPLEMENTATIONS` names, per `kind`, the class that sends (as `module:Class`, imported when first built, so
importing this package stays cheap and no notifier module imports another). A new notifier kind is its module,
its settings model in `tiation.config.notifiers` (plus its line in `MODELS` there), and one line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from pkgutil import resolve_name
from typing import Protocol

from tiation.alerting.notifiers.base import Notifier as NotifierProtocol
from tiation.clock import Clock
from tiation.config.notifiers import Notifier, NotifierSettings

IMPLEMENTATIONS: Mapping[str, str] = {
    "slack": "tiation.alerting.notifiers.slack:SlackNotifier",
    "email": "tiation.alerting.notifiers.email:EmailNotifier",
    "webhook": "tiation.alerting.notifiers.webhook:WebhookNotifier",
    "pagerduty": "tiation.alerting.notifiers.pagerduty:PagerDutyNotifier",
    "phone": "tiation.alerting.notifiers.phone:PhoneNotifier",
    "log": "tiation.alerting.notifiers.log:LogNotifier",
}
"""Notifier kind -> `module:Class` of its implementation (built as `Class(name, settings, clock=clock)`)."""


class NotifierClass(Protocol):
    """What an implementation class is: built from a name, its kind's settings model and a clock."""

    def __call__(self, name: str, settings: NotifierSettings, *, clock: Clock) -> NotifierProtocol:
        """A notifier ready to send."""
        ...


def implementation(kind: str) -> NotifierClass:
    """The class that sends notifications of `kind` (imported now)."""
    built: NotifierClass = resolve_name(IMPLEMENTATIONS[kind])
    return built


def make_notifier(
    name: str, settings: Notifier, *, clock: Clock, base: Path | None = None
) -> NotifierProtocol:
    """The notifier named `name` for `settings`; `base` resolves relative `file:` secrets (the platform dir).

    Nothing is resolved or connected here: secrets are read at each send, so an unset variable breaks only the
    sends that need it.
    """
    if base is not None:
        settings = settings.with_secret_base(base)
    return implementation(settings.kind)(name, settings.settings, clock=clock)
