"""What flows through the alert pipeline: one alert event as received, its fingerprint, and incident states.

Every intake (Alertmanager webhook, PagerDuty Events v2, generic JSON) turns a request into `AlertEvent`s; the
pipeline never sees the wire formats. An alert is identified by the fingerprint of its labels — never by its
summary text — so two alerts that share a summary but differ in any label are never merged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from tiation.records import record_dict

Status = Literal["firing", "resolved", "acknowledged"]
"""What the source says: the alert fires, has recovered, or (PagerDuty `acknowledge`) someone is on it."""


class IncidentState(StrEnum):
    """Where an incident is in its life."""

    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


def fingerprint(labels: Mapping[str, str]) -> str:
    """A stable id for a label set: SHA-256 over the sorted `name=value` pairs (16 hex digits).

    Names and values are length-prefixed, so no label value can imitate a separator and collide.
    """
    digest = hashlib.sha256()
    for name in sorted(labels):
        value = labels[name]
        for part in (name, value):
            raw = part.encode()
            digest.update(len(raw).to_bytes(4, "big"))
            digest.update(raw)
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class AlertEvent:
    """One alert as an intake understood it."""

    source: str
    """The intake it came through: `alertmanager`, `pagerduty` or `generic` (plus the configured source name)."""
    status: Status
    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str | None = None
    dedup_key: str | None = None
    """An explicit identity from the source (PagerDuty's `dedup_key`); otherwise the labels' fingerprint is used."""

    @property
    def fingerprint(self) -> str:
        """The alert's identity: the source's dedup key when it gave one, else the fingerprint of its labels."""
        if self.dedup_key:
            return "k" + hashlib.sha256(self.dedup_key.encode()).hexdigest()[:15]
        return fingerprint(self.labels)

    @property
    def summary(self) -> str:
        """The human summary (annotation `summary`, else `description`, else the alert name)."""
        return (
            self.annotations.get("summary")
            or self.annotations.get("description")
            or self.labels.get("alertname", "alert")
        )


@dataclass(frozen=True)
class IngestResult:
    """What one ingested batch did, counted by decision."""

    received: int = 0
    new: int = 0
    duplicates: int = 0
    resolved: int = 0
    acknowledged: int = 0
    silenced: int = 0
    incidents: tuple[str, ...] = ()
    """Ids of the incidents the batch's alerts belong to (new or existing), in first-seen order."""

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form (what the intake API answers)."""
        return record_dict(self)
