"""PagerDuty Events API v2 (`POST /v2/enqueue` bodies) into `AlertEvent`s.

One body is one event: `routing_key`, `event_action` (trigger | acknowledge | resolve), `dedup_key`, `payload`
{`summary`, `source`, `severity` (critical | error | warning | info), `timestamp`, `component`, `group`,
`class`, `custom_details`}, `links`, `images`, `client`, `client_url`. A trigger needs `payload.summary`,
`payload.source` and `payload.severity`; acknowledge and resolve need `dedup_key`.

Mapping to an event:
- status: trigger -> firing, acknowledge -> acknowledged, resolve -> resolved.
- labels: `alertname` = `payload.class` (else `pagerduty`), `source`, `severity`, and `component`, `group`,
  `class` when given. The summary is never a label: two events with one summary and different labels stay two
  alerts, and a summary that changes does not make a new one.
- severity, mapped to tiation's levels: critical -> critical, error -> critical, warning -> warning,
  info -> info. The sender's own word is kept in the annotation `pagerduty_severity`.
- identity: `dedup_key` when given (its own namespace, see `AlertEvent.fingerprint`), else the fingerprint of
  the labels (PagerDuty would make a random key; tiation makes a stable one, so a re-sent trigger dedups).
- annotations: `summary`, `pagerduty_severity`, `custom_details` (compact JSON, or the string as sent),
  `client`, `links` (compact JSON of the link objects). `client_url` becomes the generator URL.
- starts_at: `payload.timestamp`. Images are accepted and dropped. `routing_key` must be a string but is neither
  used nor kept: authentication is the intake's bearer token or signature.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from tiation.alerting.intake._wire import IntakeError, Timestamp, Wire, validate
from tiation.alerting.model import AlertEvent, Status

SOURCE = "pagerduty"
SEVERITIES = {"critical": "critical", "error": "critical", "warning": "warning", "info": "info"}
"""PagerDuty severity -> tiation severity label."""
_STATUS: dict[str, Status] = {"trigger": "firing", "acknowledge": "acknowledged", "resolve": "resolved"}


class PagerDutyPayload(Wire):
    """The event's `payload` (all fields required for a trigger are checked after parsing)."""

    summary: str | None = Field(default=None, max_length=1024)
    source: str | None = Field(default=None, min_length=1, max_length=1024)
    severity: Literal["critical", "error", "warning", "info"] | None = None
    timestamp: Timestamp = None
    component: str | None = Field(default=None, max_length=1024)
    group: str | None = Field(default=None, max_length=1024)
    class_: str | None = Field(default=None, alias="class", max_length=1024)
    custom_details: Any = None


class PagerDutyLink(Wire):
    """A link attached to the event."""

    href: str
    text: str | None = None


class PagerDutyImage(Wire):
    """An image attached to the event (accepted, not kept)."""

    src: str
    href: str | None = None
    alt: str | None = None


class PagerDutyEvent(Wire):
    """One Events API v2 event."""

    routing_key: str
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, max_length=255)
    payload: PagerDutyPayload | None = None
    links: list[PagerDutyLink] = Field(default_factory=list)
    images: list[PagerDutyImage] = Field(default_factory=list)
    client: str | None = None
    client_url: str | None = None


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)


def _labels(payload: PagerDutyPayload) -> dict[str, str]:
    labels = {"alertname": payload.class_ or SOURCE}
    for name, value in (
        ("source", payload.source),
        ("component", payload.component),
        ("group", payload.group),
        ("class", payload.class_),
    ):
        if value:
            labels[name] = value
    if payload.severity is not None:
        labels["severity"] = SEVERITIES[payload.severity]
    return labels


def parse_pagerduty(data: object) -> list[AlertEvent]:
    """The one event of an Events API v2 body; IntakeError (an AlertError) names the first bad field."""
    if not isinstance(data, dict):
        raise IntakeError("expected a JSON object (a PagerDuty Events API v2 event)")
    event = validate(PagerDutyEvent, data)
    if event.event_action == "trigger":
        for name in ("summary", "source", "severity"):
            if event.payload is None or getattr(event.payload, name) is None:
                raise IntakeError("required for a trigger", field=f"payload.{name}")
    elif not event.dedup_key:
        raise IntakeError(f"required for {event.event_action}", field="dedup_key")
    payload = event.payload or PagerDutyPayload()
    annotations: dict[str, str] = {}
    if payload.summary is not None:
        annotations["summary"] = payload.summary
    if payload.severity is not None:
        annotations["pagerduty_severity"] = payload.severity
    if payload.custom_details is not None:
        annotations["custom_details"] = _compact(payload.custom_details)
    if event.client:
        annotations["client"] = event.client
    if event.links:
        annotations["links"] = _compact([link.model_dump(exclude_none=True) for link in event.links])
    labels = _labels(payload) if event.payload is not None else {}
    return [
        AlertEvent(
            source=SOURCE,
            status=_STATUS[event.event_action],
            labels=labels,
            annotations=annotations,
            starts_at=payload.timestamp,
            generator_url=event.client_url or None,
            dedup_key=event.dedup_key or None,
        )
    ]
