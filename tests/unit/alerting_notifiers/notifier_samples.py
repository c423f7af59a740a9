"""A typical notification for the notifier unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tiation.alerting.notifiers import Notification


def sample(**extra: Any) -> Notification:
    """HighErrorRate on cms, as a trigger to a channel; keyword arguments replace fields."""
    fields: dict[str, Any] = {
        "key": "inc-7/0/ops/-",
        "incident_id": "inc-7",
        "event": "trigger",
        "title": "[critical] HighErrorRate cms",
        "summary": "5xx rate above 5% for 5 minutes",
        "severity": "critical",
        "labels": {"alertname": "HighErrorRate", "service": "cms", "job": "cms-web", "instance": "cms-1"},
        "annotations": {"description": "errors <b>&</b> timeouts"},
        "recipient": None,
        "created_at": datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        "url": "https://tiation.example/incidents/inc-7",
    }
    fields.update(extra)
    return Notification(**fields)
