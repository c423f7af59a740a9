"""PagerDuty Events API v2 (`POST https://events.pagerduty.com/v2/enqueue`).

One PagerDuty alert per incident: `dedup_key` is the incident id, so triggers, escalations and repeats update
the same alert, and acknowledge / resolve act on it. PagerDuty answers 202 when it has queued the event, 400
for an invalid event (or routing key), 429 when rate limited, 5xx when it should be retried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from tiation.alerting.notifiers.base import Failed, Notification, Secrets
from tiation.alerting.notifiers.http import HttpNotifier, Request, json_body
from tiation.config.notifiers import PagerDutyNotifier as PagerDutySettings

SEVERITIES: Mapping[str, str] = {
    "emergency": "critical",
    "critical": "critical",
    "error": "error",
    "warning": "warning",
    "info": "info",
}
"""tiation severity -> PagerDuty severity (critical / error / warning / info); others map to `error`."""
ACTIONS: Mapping[str, str] = {
    "trigger": "trigger",
    "escalate": "trigger",
    "repeat": "trigger",
    "acknowledge": "acknowledge",
    "resolve": "resolve",
}
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255


def dedup_key(incident_id: str) -> str:
    """The incident id, or its SHA-256 when longer than PagerDuty allows."""
    if len(incident_id) <= MAX_DEDUP_KEY:
        return incident_id
    return "sha256:" + hashlib.sha256(incident_id.encode()).hexdigest()


def event(notification: Notification, *, routing_key: str, source: str | None) -> dict[str, Any]:
    """The Events API v2 document for `notification` (pure but for the routing key it is given)."""
    action = ACTIONS[notification.event]
    doc: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(notification.incident_id),
    }
    if action != "trigger":
        return doc
    labels = notification.labels
    summary = notification.title + (f" — {notification.summary}" if notification.summary else "")
    details: dict[str, Any] = {
        "summary": notification.summary,
        "event": notification.event,
        "key": notification.key,
        "labels": dict(labels),
        "annotations": dict(notification.annotations),
    }
    if notification.recipient is not None:
        details["paged"] = notification.recipient.name
    payload: dict[str, Any] = {
        "summary": summary if len(summary) <= MAX_SUMMARY else summary[: MAX_SUMMARY - 1] + "…",
        "severity": SEVERITIES.get(notification.severity, "error"),
        "source": source or labels.get("instance") or labels.get("service") or "tiation",
        "timestamp": notification.created_at.isoformat(),
        "custom_details": details,
    }
    for field, label in (("component", "service"), ("group", "job"), ("class", "alertname")):
        if labels.get(label):
            payload[field] = labels[label]
    doc["payload"] = payload
    doc["client"] = "tiation"
    if notification.url:
        doc["client_url"] = notification.url
        doc["links"] = [{"href": notification.url, "text": "tiation incident"}]
    return doc


class PagerDutyNotifier(HttpNotifier[PagerDutySettings]):
    """Sends Events API v2 events."""

    kind = "pagerduty"

    def request(self, notification: Notification, secrets: Secrets) -> Request | Failed:
        url = secrets.reveal(self.settings.url)
        key = secrets.reveal(self.settings.routing_key)
        body = json_body(event(notification, routing_key=key, source=self.settings.source))
        return url, body, {"Content-Type": "application/json"}
