"""The state store: releases, deployments, leases, approvals, the audit log, the backup catalog, on-call
overrides and the alerting tables, on SQLite or PostgreSQL.

`StateStore` opens, migrates and closes the database and hands out units of work: `write()` and `read()` yield a
`UnitOfWork` whose repositories (`uow.releases`, `uow.deployments`, `uow.leases`, `uow.approvals`, `uow.audit`,
`uow.backups`, `uow.drills`, `uow.overrides`, `uow.alerts`) share one connection and one transaction. Any
database failure inside the block becomes a one-line `StateError` naming the action (URL redacted); lease
conflicts are `LockHeldError`s. Times come from the injected clock and are returned timezone-aware (UTC).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError

from tiation.clock import Clock
from tiation.errors import StateError
from tiation.state.db import Database, connect, current_revision, describe_error
from tiation.state.location import default_state_url
from tiation.state.revision import HEAD_REVISION
from tiation.state.uow import UnitOfWork

__all__ = ["StateStore", "UnitOfWork", "default_state_url"]


def _migrate_if_behind(db: Database) -> None:
    with db.read() as conn:
        revision = current_revision(conn)
    if revision != HEAD_REVISION:
        from tiation.state.migrate import upgrade  # alembic only when needed

        upgrade(db, revision)


class StateStore:
    """Durable state of a platform. Open with `StateStore.open(url, clock=...)`; close (or use `with`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @classmethod
    def open(cls, url: str, *, clock: Clock) -> StateStore:
        """Connect to `url` (creating a SQLite file's directory); migrate the schema if it is not current."""
        db = connect(url, clock=clock)
        try:
            _migrate_if_behind(db)
        except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
            db.close()
            raise StateError(f"cannot open state store {db.url_display}: {describe_error(exc)}") from None
        except BaseException:
            db.close()
            raise
        return cls(db)

    def close(self) -> None:
        """Close every connection."""
        self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def url_display(self) -> str:
        """The store's URL with any password masked."""
        return self._db.url_display

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self._db.backend

    @contextmanager
    def write(self, action: str = "write the state") -> Iterator[UnitOfWork]:
        """One write transaction (SQLite: `BEGIN IMMEDIATE`), committed when the block ends, rolled back if it
        raises. Database errors become a `StateError` saying the store cannot `action`. Do not nest."""
        with self._db.guard(action), self._db.write() as conn:
            yield UnitOfWork(conn, self._db.clock)

    @contextmanager
    def read(self, action: str = "read the state") -> Iterator[UnitOfWork]:
        """One read transaction: every query in the block sees the same committed state."""
        with self._db.guard(action), self._db.read() as conn:
            yield UnitOfWork(conn, self._db.clock)
