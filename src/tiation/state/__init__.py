"""Durable state: releases, deployments, leases, approvals and the audit log (SQLite or PostgreSQL).

Open with `StateStore.open(url, clock=...)` and work in units of work (`with store.write() as uow:
uow.deployments.finish(...); uow.audit.record(...)`, or `store.read()`); `default_state_url(root)` is the
SQLite file used when no URL is configured. Only SQLAlchemy Core is used; alembic is imported only when a
schema must be migrated. The exports below are resolved lazily, so importing `tiation.state` (or its light
modules `location`, `revision`, `quick`) does not import SQLAlchemy until a store is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiation.lazy import lazy_exports

if TYPE_CHECKING:
    from tiation.state.catalog import BackupRow, DrillRow
    from tiation.state.location import default_state_url
    from tiation.state.revision import HEAD_REVISION
    from tiation.state.rows import ApprovalRow, AuditRow, DeploymentRow, Lease, ReleaseRow
    from tiation.state.store import StateStore
    from tiation.state.uow import UnitOfWork

_EXPORTS = {
    "HEAD_REVISION": "tiation.state.revision",
    "ApprovalRow": "tiation.state.rows",
    "AuditRow": "tiation.state.rows",
    "BackupRow": "tiation.state.catalog",
    "DrillRow": "tiation.state.catalog",
    "DeploymentRow": "tiation.state.rows",
    "Lease": "tiation.state.rows",
    "ReleaseRow": "tiation.state.rows",
    "StateStore": "tiation.state.store",
    "UnitOfWork": "tiation.state.uow",
    "default_state_url": "tiation.state.location",
}

__all__ = [
    "HEAD_REVISION",
    "ApprovalRow",
    "AuditRow",
    "BackupRow",
    "DeploymentRow",
    "DrillRow",
    "Lease",
    "ReleaseRow",
    "StateStore",
    "UnitOfWork",
    "default_state_url",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)
