"""Initial state schema: releases, deployments, leases, approvals, audit events.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_NAME = 200
_DIGEST = 100


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "releases",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("environment", sa.String(_NAME), nullable=False),
        sa.Column("service", sa.String(_NAME), nullable=False),
        sa.Column("version", sa.String(_NAME), nullable=False),
        sa.Column("digest", sa.String(_DIGEST), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quarantined", sa.Boolean, nullable=False),
        sa.Column("quarantine_reason", sa.Text, nullable=True),
        sa.UniqueConstraint("environment", "service", "digest", name="uq_releases_env_service_digest"),
    )
    op.create_table(
        "deployments",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(12), nullable=False, unique=True),
        sa.Column("environment", sa.String(_NAME), nullable=False),
        sa.Column("service", sa.String(_NAME), nullable=False),
        sa.Column("version", sa.String(_NAME), nullable=False),
        sa.Column("digest", sa.String(_DIGEST), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("verdict", sa.Text, nullable=True),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("actor", sa.String(_NAME), nullable=False),
        sa.Column("parent_id", sa.String(12), sa.ForeignKey("deployments.id"), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_deployments_env_service_started", "deployments", ["environment", "service", "started_at"]
    )
    op.create_table(
        "leases",
        sa.Column("environment", sa.String(_NAME), primary_key=True),
        sa.Column("service", sa.String(_NAME), primary_key=True),
        sa.Column("owner", sa.String(_NAME), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("environment", sa.String(_NAME), nullable=False),
        sa.Column("service", sa.String(_NAME), nullable=False),
        sa.Column("version", sa.String(_NAME), nullable=False),
        sa.Column("digest", sa.String(_DIGEST), nullable=False),
        sa.Column("actor", sa.String(_NAME), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_approvals_env_service_digest", "approvals", ["environment", "service", "digest"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(_NAME), nullable=False),
        sa.Column("action", sa.String(_NAME), nullable=False),
        sa.Column("environment", sa.String(_NAME), nullable=True),
        sa.Column("service", sa.String(_NAME), nullable=True),
        sa.Column("deployment_id", sa.String(12), nullable=True),
        sa.Column("details", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_events_deployment_id", "audit_events", ["deployment_id"])


def downgrade() -> None:
    """Drop every table."""
    for name in ("audit_events", "approvals", "leases", "deployments", "releases"):
        op.drop_table(name)
