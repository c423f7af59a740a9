"""Durable state: releases, deployments, leases, approvals and the audit log (SQLite or PostgreSQL).

Open with `StateStore.open(url, clock=...)`; `default_state_url(root)` is the SQLite file used when no URL is
configured. Only SQLAlchemy Core is imported here; alembic is imported only when a schema must be migrated.
"""

from tiation.state.rows import ApprovalRow, AuditRow, DeploymentRow, Lease, ReleaseRow
from tiation.state.schema import HEAD_REVISION
from tiation.state.store import StateStore, default_state_url

__all__ = [
    "HEAD_REVISION",
    "ApprovalRow",
    "AuditRow",
    "DeploymentRow",
    "Lease",
    "ReleaseRow",
    "StateStore",
    "default_state_url",
]
