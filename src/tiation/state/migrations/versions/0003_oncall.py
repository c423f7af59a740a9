"""On-call overrides.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_NAME = 200


def upgrade() -> None:
    """Create the oncall_overrides table."""
    op.create_table(
        "oncall_overrides",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("schedule", sa.String(_NAME), nullable=False),
        sa.Column("person", sa.String(_NAME), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(_NAME), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("ix_oncall_overrides_schedule_ends", "schedule", "ends_at"),
    )


def downgrade() -> None:
    """Drop the oncall_overrides table."""
    op.drop_table("oncall_overrides")
