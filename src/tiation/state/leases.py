"""Leases: one lock per (environment, service), atomic across processes on SQLite and PostgreSQL.

Acquiring deletes the lease if it has expired and inserts ours, in one write transaction; the primary key
(environment, service) makes the insert fail if someone else holds a live lease. On SQLite the transaction
starts with `BEGIN IMMEDIATE`, so racing acquirers run one after the other; on PostgreSQL the loser's insert
waits for the winner's commit and then fails on the key. Each acquisition gets a fresh random token: only the
holder of that token can heartbeat or release it.
"""

from __future__ import annotations

from datetime import timedelta
from secrets import token_hex
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tiation.errors import LockHeldError, StateError
from tiation.state.audit import write_audit
from tiation.state.db import Database
from tiation.state.rows import Lease
from tiation.state.schema import leases

_ATTEMPTS = 10


def _key(environment: str, service: str) -> Any:
    return (leases.c.environment == environment) & (leases.c.service == service)


def _lease(db: Database, row: Row[Any]) -> Lease:
    m = row._mapping
    return Lease(
        environment=m["environment"],
        service=m["service"],
        owner=m["owner"],
        reason=m["reason"],
        token=m["token"],
        acquired_at=m["acquired_at"],
        heartbeat_at=m["heartbeat_at"],
        expires_at=m["expires_at"],
        expired=m["expires_at"] < db.clock.now(),
    )


def _holder(db: Database, conn: Connection, environment: str, service: str) -> Lease | None:
    row = conn.execute(select(leases).where(_key(environment, service))).first()
    return None if row is None else _lease(db, row)


def acquire(db: Database, environment: str, service: str, *, owner: str, reason: str, ttl: float) -> Lease:
    """Take the lease, replacing an expired one; LockHeldError naming the holder if a live one exists."""
    if not ttl > 0:
        raise StateError(f"a lease needs a positive ttl, got {ttl}")
    for _ in range(_ATTEMPTS):
        token = token_hex(16)
        try:
            with db.write() as conn:
                now = db.clock.now()  # read inside the transaction: the wait for the write lock is over
                conn.execute(delete(leases).where(_key(environment, service), leases.c.expires_at < now))
                lease = Lease(
                    environment=environment,
                    service=service,
                    owner=owner,
                    reason=reason,
                    token=token,
                    acquired_at=now,
                    heartbeat_at=now,
                    expires_at=now + timedelta(seconds=ttl),
                    expired=False,
                )
                conn.execute(
                    insert(leases).values(
                        environment=environment,
                        service=service,
                        owner=owner,
                        reason=reason,
                        token=token,
                        acquired_at=now,
                        heartbeat_at=now,
                        expires_at=lease.expires_at,
                    )
                )
            return lease
        except IntegrityError:
            with db.read() as conn:
                holder = _holder(db, conn, environment, service)
            if holder is not None and not holder.expired:
                raise LockHeldError(holder.held_message(db.clock.now())) from None
            # released or expired since our attempt: try again
    raise LockHeldError(f"{environment}/{service} is contended; could not take the lease, try again")


def heartbeat(db: Database, lease: Lease) -> Lease:
    """Extend the lease by its ttl from now, if it is still ours; LockHeldError('lease lost …') if not."""
    ttl = lease.ttl if lease.ttl > timedelta(0) else timedelta(seconds=1)
    with db.write() as conn:
        now = db.clock.now()
        expires_at = now + ttl
        result = conn.execute(
            update(leases)
            .where(_key(lease.environment, lease.service), leases.c.token == lease.token)
            .values(heartbeat_at=now, expires_at=expires_at)
        )
        if result.rowcount == 0:
            raise LockHeldError(
                f"lease lost: {lease.key} is no longer held by {lease.owner} (expired and taken over, or"
                " force-released)"
            )
    return Lease(
        environment=lease.environment,
        service=lease.service,
        owner=lease.owner,
        reason=lease.reason,
        token=lease.token,
        acquired_at=lease.acquired_at,
        heartbeat_at=now,
        expires_at=expires_at,
        expired=False,
    )


def release(db: Database, lease: Lease) -> None:
    """Give the lease up if it is still ours; a lease that was lost is left to its new holder."""
    with db.write() as conn:
        conn.execute(
            delete(leases).where(_key(lease.environment, lease.service), leases.c.token == lease.token)
        )


def list_all(db: Database) -> list[Lease]:
    """Every lease row, live or expired, by environment and service."""
    with db.read() as conn:
        rows = conn.execute(select(leases).order_by(leases.c.environment, leases.c.service)).all()
    return [_lease(db, row) for row in rows]


def force_release(db: Database, environment: str, service: str, *, actor: str) -> Lease | None:
    """Delete the lease whoever holds it, and audit that `actor` did; returns what was removed."""
    with db.write() as conn:
        row = conn.execute(delete(leases).where(_key(environment, service)).returning(*leases.c)).first()
        removed = None if row is None else _lease(db, row)
        details: dict[str, Any] = {"released": removed is not None}
        if removed is not None:
            details.update(
                owner=removed.owner,
                reason=removed.reason,
                acquired_at=removed.acquired_at.isoformat(),
                expires_at=removed.expires_at.isoformat(),
                expired=removed.expired,
            )
        write_audit(
            db,
            conn,
            actor=actor,
            action="lock.force_release",
            environment=environment,
            service=service,
            deployment_id=None,
            details=details,
        )
    return removed
