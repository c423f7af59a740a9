"""Row types of the alerting tables (frozen dataclasses) and their converters from database rows."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from tiation.state.rows import utc


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


def opt_time(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


def incident_row(r: Row[Any]) -> IncidentRow:
    return IncidentRow(
        r.id,
        r.group_key,
        r.state,
        r.severity,
        r.policy,
        r.title,
        json.loads(r.labels),
        bool(r.silenced),
        r.deployment_id,
        utc(r.opened_at),
        opt_time(r.acknowledged_at),
        r.acknowledged_by,
        opt_time(r.resolved_at),
        r.resolved_by,
    )


def alert_row(r: Row[Any]) -> AlertRow:
    return AlertRow(
        r.fingerprint,
        r.incident_id,
        r.status,
        r.source,
        json.loads(r.labels),
        json.loads(r.annotations),
        opt_time(r.starts_at),
        utc(r.first_seen_at),
        utc(r.last_seen_at),
        opt_time(r.resolved_at),
        r.received,
    )


def step_row(r: Row[Any]) -> StepRow:
    return StepRow(
        r.id, r.incident_id, r.ordinal, r.step, r.round, utc(r.due_at), r.state, opt_time(r.fired_at)
    )


def outbox_row(r: Row[Any]) -> OutboxRow:
    return OutboxRow(
        r.id,
        r.key,
        r.notifier,
        r.incident_id,
        json.loads(r.payload),
        r.state,
        r.attempts,
        utc(r.next_attempt_at),
        r.last_error,
        utc(r.created_at),
        opt_time(r.sent_at),
    )
