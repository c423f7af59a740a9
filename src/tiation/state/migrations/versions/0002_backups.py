"""Backup catalog and restore drills.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_NAME = 200


def upgrade() -> None:
    """Create the backups and drills tables."""
    op.create_table(
        "backups",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(_NAME), nullable=False, unique=True),
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("storage", sa.String(_NAME), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("manifest", sa.Text, nullable=False),
        sa.Column("pinned", sa.Boolean, nullable=False),
        sa.Column("verified", sa.Boolean, nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verify_detail", sa.Text, nullable=True),
        sa.Index("ix_backups_name_finished", "name", "finished_at"),
    )
    op.create_table(
        "drills",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("backup_id", sa.String(_NAME), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("rto_s", sa.Float, nullable=False),
        sa.Column("objective_s", sa.Float, nullable=True),
        sa.Column("phases", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Index("ix_drills_name_started", "name", "started_at"),
    )


def downgrade() -> None:
    """Drop the backups and drills tables."""
    op.drop_table("drills")
    op.drop_table("backups")
