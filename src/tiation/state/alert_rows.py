"""Row types of the alerting tables (frozen dataclasses) and their mappers from database rows."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tiation.state.mapper import RowMapper


@dataclass(frozen=True)
class IncidentRow:
    """An incident as stored."""

    id: str
    group_key: str
    state: str
    severity: str
    policy: str | None
    title: str
    labels: dict[str, str]
    silenced: bool
    deployment_id: str | None
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (times as ISO 8601), as the CLI and the API print it."""
        out = dataclasses.asdict(self)
        for key in ("opened_at", "acknowledged_at", "resolved_at"):
            out[key] = out[key].isoformat() if out[key] is not None else None
        out.pop("group_key")
        return out


@dataclass(frozen=True)
class AlertRow:
    """The latest occurrence of one alert."""

    fingerprint: str
    incident_id: str | None
    status: str
    source: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    received: int


@dataclass(frozen=True)
class EventRow:
    """One timeline entry."""

    id: int
    incident_id: str
    at: datetime
    stage: str
    outcome: str
    reason: str
    actor: str | None
    fingerprint: str | None


@dataclass(frozen=True)
class SilenceRow:
    """A silence added through the CLI or API."""

    id: int
    matchers: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    comment: str
    actor: str


@dataclass(frozen=True)
class StepRow:
    """One planned escalation step."""

    id: int
    incident_id: str
    ordinal: int
    step: int
    round: int
    due_at: datetime
    state: str
    fired_at: datetime | None


@dataclass(frozen=True)
class OutboxRow:
    """One notification in the outbox."""

    id: int
    key: str
    notifier: str
    incident_id: str | None
    payload: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


incident_row = RowMapper(IncidentRow)
alert_row = RowMapper(AlertRow)
event_row = RowMapper(EventRow)
silence_row = RowMapper(SilenceRow)
step_row = RowMapper(StepRow)
outbox_row = RowMapper(OutboxRow)
