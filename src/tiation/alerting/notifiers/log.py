"""Log notifier: each notification appended as one JSON line to a file (for local setups, demos and tests).

Nothing leaves the machine, and no secret is involved; every string of the line still passes through
`tiation.redact` (a label or annotation may quote a registered secret). The file is opened for each line in
append mode and written with one call, so `tail -f` and log rotation both work, and lines from concurrent
writers do not interleave.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from tiation.alerting.notifiers.base import (
    DEFAULT_RETRY,
    ConfiguredNotifier,
    Notification,
    RetryLater,
    SendResult,
    Sent,
    logged,
    notification_fields,
    safe_reason,
)
from tiation.clock import Clock
from tiation.config.notifiers import LogNotifier as LogSettings
from tiation.redact import redact

FORMAT_VERSION = 1


def line(notification: Notification, *, notifier: str, written_at: str) -> dict[str, Any]:
    """The JSON object written for one notification, every string redacted (pure)."""
    doc = {
        "version": FORMAT_VERSION,
        "notifier": notifier,
        "written_at": written_at,
        **notification_fields(notification),
    }
    cleaned: dict[str, Any] = _redacted(doc)
    return cleaned


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): _redacted(v) for k, v in value.items()}
    return value


class LogNotifier(ConfiguredNotifier[LogSettings]):
    """Appends one JSON line per notification to `settings.path`."""

    kind = "log"

    def __init__(self, name: str, settings: LogSettings, *, clock: Clock) -> None:
        super().__init__(name, settings, clock=clock)
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> SendResult:
        """Append the notification; a file that cannot be written is retried later (disk full, directory
        not there yet)."""
        doc = line(notification, notifier=self.name, written_at=self.clock.now().isoformat())
        data = (json.dumps(doc, sort_keys=True, ensure_ascii=False) + "\n").encode()
        try:
            with self._lock:
                fd = os.open(self.settings.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
        except OSError as exc:
            reason = safe_reason(f"cannot write {self.settings.path}: {exc.strerror or exc}")
            return logged(self.name, self.kind, notification, RetryLater(DEFAULT_RETRY, reason))
        return logged(self.name, self.kind, notification, Sent())

    def close(self) -> None:
        """Nothing is kept open between sends."""
