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
`Repository` subclass with the queries; and one `_Repository(...)` line here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar, overload

from sqlalchemy import Connection

from tiation.clock import Clock
from tiation.state.alerts import AlertTx
from tiation.state.audit import Approvals, AuditLog
from tiation.state.catalog import Backups, Drills
from tiation.state.leases import Leases
from tiation.state.oncall import Overrides
from tiation.state.releases import Deployments, Releases

RepoT = TypeVar("RepoT")


class _Repository(Generic[RepoT]):
    """One area's repository on the unit of work: built from its connection and clock on first use, then kept
    in the instance (as `functools.cached_property` does)."""

    def __init__(self, factory: Callable[[Connection, Clock], RepoT], doc: str) -> None:
        self.factory = factory
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, uow: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, uow: UnitOfWork, owner: type[Any]) -> RepoT: ...

    def __get__(self, uow: UnitOfWork | None, owner: type[Any]) -> Self | RepoT:
        if uow is None:
            return self
        repo = self.factory(uow.conn, uow.clock)
        uow.__dict__[self.name] = repo
        return repo


class UnitOfWork:
    """One transaction of the state store, with a repository per area."""

    releases = _Repository(Releases, "Saved releases and their quarantine marks.")
    deployments = _Repository(Deployments, "Deploys, rollbacks and auto-rollbacks and their outcomes.")
    leases = _Repository(Leases, "The deploy locks.")
    approvals = _Repository(Approvals, "Approvals of releases.")
    audit = _Repository(AuditLog, "The audit log.")
    backups = _Repository(Backups, "The backup catalog.")
    drills = _Repository(Drills, "Restore drill results.")
    overrides = _Repository(Overrides, "On-call overrides.")
    alerts = _Repository(AlertTx, "Incidents, alerts, silences, timelines, escalation steps and the outbox.")

    def __init__(self, conn: Connection, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock
