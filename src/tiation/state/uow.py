"""The unit of work: every area's repository, bound to one connection inside one transaction.

`StateStore.write()` yields one (a write transaction, `BEGIN IMMEDIATE` on SQLite) and commits it when the
block ends, or rolls everything back if the block raises; `StateStore.read()` yields one inside a read
transaction (one consistent snapshot). So a deployment's result and its audit entry, a silence and its audit
entry, or a backup record and its audit entry commit together or not at all:

    with store.write("finish a deployment") as uow:
        uow.deployments.finish(dep_id, status="succeeded", verdict=why, evidence=evidence)
        uow.audit.record(actor=actor, action="deploy.succeeded", deployment_id=dep_id)

Repositories are built on first use, so a block pays only for the areas it touches.

To add a table (or an area): its `Table` in `schema.py`; an Alembic script in `migrations/versions/` and the new
`HEAD_REVISION` in `revision.py`; in the area's module, its frozen row dataclass, one `RowMapper(...)` line and a
`Repository` subclass with the queries; and one property here.
"""

from __future__ import annotations

from functools import cached_property

from sqlalchemy import Connection

from tiation.clock import Clock
from tiation.state.alerts import AlertTx
from tiation.state.audit import Approvals, AuditLog
from tiation.state.catalog import Backups, Drills
from tiation.state.leases import Leases
from tiation.state.oncall import Overrides
from tiation.state.releases import Deployments, Releases


class UnitOfWork:
    """One transaction of the state store, with a repository per area."""

    def __init__(self, conn: Connection, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock

    @cached_property
    def releases(self) -> Releases:
        """Saved releases and their quarantine marks."""
        return Releases(self.conn, self.clock)

    @cached_property
    def deployments(self) -> Deployments:
        """Deploys, rollbacks and auto-rollbacks and their outcomes."""
        return Deployments(self.conn, self.clock)

    @cached_property
    def leases(self) -> Leases:
        """The deploy locks."""
        return Leases(self.conn, self.clock)

    @cached_property
    def approvals(self) -> Approvals:
        """Approvals of releases."""
        return Approvals(self.conn, self.clock)

    @cached_property
    def audit(self) -> AuditLog:
        """The audit log."""
        return AuditLog(self.conn, self.clock)

    @cached_property
    def backups(self) -> Backups:
        """The backup catalog."""
        return Backups(self.conn, self.clock)

    @cached_property
    def drills(self) -> Drills:
        """Restore drill results."""
        return Drills(self.conn, self.clock)

    @cached_property
    def overrides(self) -> Overrides:
        """On-call overrides."""
        return Overrides(self.conn, self.clock)

    @cached_property
    def alerts(self) -> AlertTx:
        """Incidents, alerts, silences, timelines, escalation steps and the outbox."""
        return AlertTx(self.conn, self.clock)
