"""The state schema as SQLAlchemy Core tables, and the migration revision it corresponds to.

`HEAD_REVISION` is the newest revision in `migrations/versions/`; a store whose `alembic_version` says
the same is up to date and is opened without importing alembic at all (a test keeps the two in step).
The tables here are what the code queries; the migrations create them (a test checks that they agree).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from tiation.state.mapper import utc
from tiation.state.revision import HEAD_REVISION

__all__ = ["HEAD_REVISION"]

NAME_LEN = 200
DIGEST_LEN = 100


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return utc(value)


metadata = MetaData()

releases = Table(
    "releases",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("environment", String(NAME_LEN), nullable=False),
    Column("service", String(NAME_LEN), nullable=False),
    Column("version", String(NAME_LEN), nullable=False),
    Column("digest", String(DIGEST_LEN), nullable=False),
    Column("spec", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("quarantined", Boolean, nullable=False, default=False),
    Column("quarantine_reason", Text, nullable=True),
    UniqueConstraint("environment", "service", "digest", name="uq_releases_env_service_digest"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(12), nullable=False, unique=True),
    Column("environment", String(NAME_LEN), nullable=False),
    Column("service", String(NAME_LEN), nullable=False),
    Column("version", String(NAME_LEN), nullable=False),
    Column("digest", String(DIGEST_LEN), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("verdict", Text, nullable=True),
    Column("evidence", Text, nullable=False),
    Column("actor", String(NAME_LEN), nullable=False),
    Column("parent_id", String(12), ForeignKey("deployments.id"), nullable=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Index("ix_deployments_env_service_started", "environment", "service", "started_at"),
)

leases = Table(
    "leases",
    metadata,
    Column("environment", String(NAME_LEN), primary_key=True),
    Column("service", String(NAME_LEN), primary_key=True),
    Column("owner", String(NAME_LEN), nullable=False),
    Column("reason", Text, nullable=False),
    Column("token", String(64), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("environment", String(NAME_LEN), nullable=False),
    Column("service", String(NAME_LEN), nullable=False),
    Column("version", String(NAME_LEN), nullable=False),
    Column("digest", String(DIGEST_LEN), nullable=False),
    Column("actor", String(NAME_LEN), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_approvals_env_service_digest", "environment", "service", "digest"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(NAME_LEN), nullable=False),
    Column("action", String(NAME_LEN), nullable=False),
    Column("environment", String(NAME_LEN), nullable=True),
    Column("service", String(NAME_LEN), nullable=True),
    Column("deployment_id", String(12), nullable=True),
    Column("details", Text, nullable=False),
    Index("ix_audit_events_deployment_id", "deployment_id"),
)

backups = Table(
    "backups",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(NAME_LEN), nullable=False, unique=True),
    Column("name", String(NAME_LEN), nullable=False),
    Column("storage", String(NAME_LEN), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("manifest", Text, nullable=False),
    Column("pinned", Boolean, nullable=False),
    Column("verified", Boolean, nullable=True),
    Column("verified_at", UTCDateTime, nullable=True),
    Column("verify_detail", Text, nullable=True),
    Index("ix_backups_name_finished", "name", "finished_at"),
)

drills = Table(
    "drills",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LEN), nullable=False),
    Column("backup_id", String(NAME_LEN), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("rto_s", Float, nullable=False),
    Column("objective_s", Float, nullable=True),
    Column("phases", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_drills_name_started", "name", "started_at"),
)

TABLE_NAMES: tuple[str, ...] = (
    "releases",
    "deployments",
    "leases",
    "approvals",
    "audit_events",
    "backups",
    "drills",
)
"""Every table the schema defines (besides alembic's own `alembic_version`)."""

oncall_overrides = Table(
    "oncall_overrides",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("schedule", String(NAME_LEN), nullable=False),
    Column("person", String(NAME_LEN), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", String(NAME_LEN), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_oncall_overrides_schedule_ends", "schedule", "ends_at"),
)
"""On-call overrides added through the CLI or the API (the platform file's own overrides are not stored)."""

incidents = Table(
    "incidents",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(12), nullable=False, unique=True),
    Column("group_key", Text, nullable=False),
    Column("state", String(20), nullable=False),
    Column("severity", String(NAME_LEN), nullable=False),
    Column("policy", String(NAME_LEN), nullable=True),
    Column("title", Text, nullable=False),
    Column("labels", Text, nullable=False),
    Column("silenced", Boolean, nullable=False),
    Column("deployment_id", String(12), nullable=True),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("acknowledged_by", String(NAME_LEN), nullable=True),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("resolved_by", String(NAME_LEN), nullable=True),
    Index("ix_incidents_state_group", "state", "group_key"),
)
"""Incidents: alerts grouped by `group_by`, with their escalation state."""

alerts = Table(
    "alerts",
    metadata,
    Column("fingerprint", String(16), primary_key=True),
    Column("incident_id", String(12), nullable=True),
    Column("status", String(20), nullable=False),
    Column("source", String(NAME_LEN), nullable=False),
    Column("labels", Text, nullable=False),
    Column("annotations", Text, nullable=False),
    Column("starts_at", UTCDateTime, nullable=True),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("received", Integer, nullable=False),
    Index("ix_alerts_incident", "incident_id"),
)
"""The latest occurrence of each alert (by fingerprint of its labels)."""

incident_events = Table(
    "incident_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(12), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("stage", String(40), nullable=False),
    Column("outcome", String(NAME_LEN), nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", String(NAME_LEN), nullable=True),
    Column("fingerprint", String(16), nullable=True),
    Index("ix_incident_events_incident", "incident_id", "id"),
)
"""Each incident's timeline: every pipeline decision with its reason, every step fired, ack and resolve."""

escalation_steps = Table(
    "escalation_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(12), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("step", Integer, nullable=False),
    Column("round", Integer, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("state", String(20), nullable=False),
    Column("fired_at", UTCDateTime, nullable=True),
    UniqueConstraint("incident_id", "ordinal", name="uq_escalation_steps_incident_ordinal"),
    Index("ix_escalation_steps_state_due", "state", "due_at"),
)
"""Persistent escalation timers: one row per planned step; `pending` until fired once or cancelled."""

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(400), nullable=False, unique=True),
    Column("notifier", String(NAME_LEN), nullable=False),
    Column("incident_id", String(12), nullable=True),
    Column("payload", Text, nullable=False),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Index("ix_outbox_state_notifier", "state", "notifier", "id"),
)
"""Notifications waiting for (or done with) delivery, in order per notifier; retried with backoff."""

silences = Table(
    "silences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("matchers", Text, nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("comment", Text, nullable=False),
    Column("actor", String(NAME_LEN), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_silences_ends", "ends_at"),
)
"""Silences added through the CLI or API (the platform file's own silences are not stored)."""

ALERTING_TABLES = ("incidents", "alerts", "incident_events", "escalation_steps", "outbox", "silences")
TABLE_NAMES = (*TABLE_NAMES, "oncall_overrides", *ALERTING_TABLES)
