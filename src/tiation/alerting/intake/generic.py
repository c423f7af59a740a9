"""tiation's own alert format, for scripts and tools without an Alertmanager or PagerDuty client.

A body is either a batch `{"alerts": [ALERT, ...]}` or one ALERT on its own. An ALERT is:

    {
      "status": "firing",                  # firing (default) | resolved | acknowledged
      "labels": {"alertname": "DiskFull", "service": "cms", "severity": "warning"},   # required, non-empty
      "annotations": {"summary": "..."},   # optional, strings
      "starts_at": "2026-03-01T12:00:00Z", # optional, RFC 3339 with an offset
      "ends_at": null,                     # optional
      "generator_url": "https://...",      # optional
      "dedup_key": "..."                   # optional: an explicit identity instead of the labels' fingerprint
    }

Unknown keys are errors (they are typos in a format we own). Identity is the labels' fingerprint unless a
`dedup_key` is given; the summary never is.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tiation.alerting.intake._wire import (
    ClosedWire,
    IntakeError,
    Labels,
    StrMap,
    Timestamp,
    alert_event,
    validate,
)
from tiation.alerting.model import AlertEvent

SOURCE = "generic"


class GenericAlert(ClosedWire):
    """One alert in tiation's generic format."""

    status: Literal["firing", "resolved", "acknowledged"] = "firing"
    labels: Labels
    annotations: StrMap = Field(default_factory=dict)
    starts_at: Timestamp = None
    ends_at: Timestamp = None
    generator_url: str | None = None
    dedup_key: str | None = Field(default=None, min_length=1, max_length=255)


class GenericBatch(ClosedWire):
    """A batch of alerts in tiation's generic format."""

    alerts: list[GenericAlert]


def parse_generic(data: object) -> list[AlertEvent]:
    """The events of a generic body (batch or single alert); IntakeError names the first bad field."""
    if not isinstance(data, dict):
        raise IntakeError('expected a JSON object: {"alerts": [...]} or one alert')
    alerts = validate(GenericBatch, data).alerts if "alerts" in data else [validate(GenericAlert, data)]
    return [alert_event(SOURCE, a, generator_url=a.generator_url, dedup_key=a.dedup_key) for a in alerts]
