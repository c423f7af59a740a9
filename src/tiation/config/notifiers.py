"""The platform file's `notifiers:` section (first version; the notifier work extends it)."""

from __future__ import annotations

from typing import Literal

from tiation.config.base import Secret, Strict


class Notifier(Strict):
    """Where and how notifications are delivered."""

    kind: Literal["slack", "email", "webhook", "pagerduty", "phone"]
    url: Secret | None = None
