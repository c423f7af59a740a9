"""Alerting: incidents, alerts, timelines, escalation timers, the notification outbox and silences.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_NAME = 200


def _ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the alerting tables."""
    op.create_table(
        "incidents",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(12), nullable=False, unique=True),
        sa.Column("group_key", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("severity", sa.String(_NAME), nullable=False),
        sa.Column("policy", sa.String(_NAME), nullable=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("silenced", sa.Boolean, nullable=False),
        sa.Column("deployment_id", sa.String(12), nullable=True),
        _ts("opened_at"),
        _ts("acknowledged_at", True),
        sa.Column("acknowledged_by", sa.String(_NAME), nullable=True),
        _ts("resolved_at", True),
        sa.Column("resolved_by", sa.String(_NAME), nullable=True),
        sa.Index("ix_incidents_state_group", "state", "group_key"),
    )
    op.create_table(
        "alerts",
        sa.Column("fingerprint", sa.String(16), primary_key=True),
        sa.Column("incident_id", sa.String(12), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source", sa.String(_NAME), nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("annotations", sa.Text, nullable=False),
        _ts("starts_at", True),
        _ts("first_seen_at"),
        _ts("last_seen_at"),
        _ts("resolved_at", True),
        sa.Column("received", sa.Integer, nullable=False),
        sa.Index("ix_alerts_incident", "incident_id"),
    )
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(12), nullable=False),
        _ts("at"),
        sa.Column("stage", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(_NAME), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(_NAME), nullable=True),
        sa.Column("fingerprint", sa.String(16), nullable=True),
        sa.Index("ix_incident_events_incident", "incident_id", "id"),
    )
    op.create_table(
        "escalation_steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(12), nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        _ts("due_at"),
        sa.Column("state", sa.String(20), nullable=False),
        _ts("fired_at", True),
        sa.UniqueConstraint("incident_id", "ordinal", name="uq_escalation_steps_incident_ordinal"),
        sa.Index("ix_escalation_steps_state_due", "state", "due_at"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(400), nullable=False, unique=True),
        sa.Column("notifier", sa.String(_NAME), nullable=False),
        sa.Column("incident_id", sa.String(12), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _ts("next_attempt_at"),
        sa.Column("last_error", sa.Text, nullable=True),
        _ts("created_at"),
        _ts("sent_at", True),
        sa.Index("ix_outbox_state_notifier", "state", "notifier", "id"),
    )
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("matchers", sa.Text, nullable=False),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("actor", sa.String(_NAME), nullable=False),
        _ts("created_at"),
        sa.Index("ix_silences_ends", "ends_at"),
    )


def downgrade() -> None:
    """Drop the alerting tables."""
    for table in ("silences", "outbox", "escalation_steps", "incident_events", "alerts", "incidents"):
        op.drop_table(table)
