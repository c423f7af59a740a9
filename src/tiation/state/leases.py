"""Leases: one lock per (environment, service), atomic across processes on SQLite and PostgreSQL.

Acquiring deletes the lease if it has expired and inserts ours, inside the caller's write transaction; the
primary key (environment, service) makes the insert fail if someone else holds a live lease. On SQLite the
transaction started with `BEGIN IMMEDIATE`, so racing acquirers run one after the other; on PostgreSQL the
loser's insert waits for the winner's commit and then fails on the key (inside a savepoint, so the
transaction goes on and reads the winner's row). Each acquisition gets a fresh random token: only the holder
of that token can heartbeat or release it.

A lease whose holder is provably dead is free at once, like an expired one: the owner string names the host
and pid (`alice@host pid 123`), and the token ends with the holder's process start time (`<random>.<ticks>`,
Linux), so a holder on this host whose pid is gone or reused by another process is dead.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
from datetime import timedelta
from secrets import token_hex
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tiation.errors import LockHeldError, StateError
from tiation.state.audit import AuditLog
from tiation.state.processes import pid_start, running
from tiation.state.repository import Repository
from tiation.state.rows import Lease, lease_row
from tiation.state.schema import leases

_ATTEMPTS = 10
_HOLDER = re.compile(r"@(?P<host>[^@\s]+) pid (?P<pid>\d+)$")


def _token() -> str:
    """A fresh random token, ending with this process's start time when known."""
    started = pid_start(os.getpid())
    return token_hex(16) if started is None else f"{token_hex(16)}.{started}"


def dead_holder(owner: str, token: str) -> str:
    """Why the holder of a lease is provably dead ("pid 123 gone"), or "" if it may be alive (or elsewhere)."""
    match = _HOLDER.search(owner)
    if match is None or match["host"] != socket.gethostname():
        return ""
    pid = int(match["pid"])
    _, dot, started = token.rpartition(".")
    return "" if running(pid, started if dot else None) else f"pid {pid} gone"


def _key(environment: str, service: str) -> Any:
    return (leases.c.environment == environment) & (leases.c.service == service)


class Leases(Repository):
    """The deploy locks. Use inside `StateStore.write()` (all but `all`, which reads)."""

    def _lease(self, row: Row[Any]) -> Lease:
        values = row._mapping
        return lease_row(
            row,
            expired=values["expires_at"] < self.clock.now(),
            dead=dead_holder(values["owner"], values["token"]),
        )

    def _holder(self, environment: str, service: str) -> Lease | None:
        row = self.conn.execute(select(leases).where(_key(environment, service))).first()
        return None if row is None else self._lease(row)

    def acquire(self, environment: str, service: str, *, owner: str, reason: str, ttl: float) -> Lease:
        """Take the lease, replacing an expired one; LockHeldError naming the holder if a live one exists."""
        if not ttl > 0:
            raise StateError(f"a lease needs a positive ttl, got {ttl}")
        for _ in range(_ATTEMPTS):
            now = self.clock.now()  # read inside the transaction: the wait for the write lock is over
            lease = Lease(
                environment=environment,
                service=service,
                owner=owner,
                reason=reason,
                token=_token(),
                acquired_at=now,
                heartbeat_at=now,
                expires_at=now + timedelta(seconds=ttl),
                expired=False,
            )
            try:
                with self.conn.begin_nested():
                    self.conn.execute(
                        delete(leases).where(_key(environment, service), leases.c.expires_at < now)
                    )
                    self._drop_dead(environment, service)
                    self.conn.execute(insert(leases).values(**_columns(lease)))
                return lease
            except IntegrityError:
                holder = self._holder(environment, service)
                if holder is not None and not holder.expired and not holder.dead:
                    raise LockHeldError(holder.held_message(self.clock.now())) from None
                # released or expired since our attempt: try again
        raise LockHeldError(f"{environment}/{service} is contended; could not take the lease, try again")

    def _drop_dead(self, environment: str, service: str) -> None:
        """Delete the lease if its holder is provably dead (by its token: a live successor is kept)."""
        holder = self._holder(environment, service)
        if holder is not None and holder.dead:
            self.conn.execute(
                delete(leases).where(_key(environment, service), leases.c.token == holder.token)
            )

    def heartbeat(self, lease: Lease) -> Lease:
        """Extend the lease by its ttl from now, if it is still ours; LockHeldError('lease lost …') if not."""
        ttl = lease.ttl if lease.ttl > timedelta(0) else timedelta(seconds=1)
        now = self.clock.now()
        expires_at = now + ttl
        result = self.conn.execute(
            update(leases)
            .where(_key(lease.environment, lease.service), leases.c.token == lease.token)
            .values(heartbeat_at=now, expires_at=expires_at)
        )
        if result.rowcount == 0:
            raise LockHeldError(
                f"lease lost: {lease.key} is no longer held by {lease.owner} (expired and taken over, or"
                " force-released)"
            )
        return Lease(**{**_columns(lease), "heartbeat_at": now, "expires_at": expires_at, "expired": False})

    def release(self, lease: Lease) -> None:
        """Give the lease up if it is still ours; a lease that was lost is left to its new holder."""
        self.conn.execute(
            delete(leases).where(_key(lease.environment, lease.service), leases.c.token == lease.token)
        )

    def all(self) -> list[Lease]:
        """Every lease row, live or expired (see `Lease.expired`), by environment and service."""
        rows = self.conn.execute(select(leases).order_by(leases.c.environment, leases.c.service)).all()
        return [self._lease(row) for row in rows]

    def force_release(self, environment: str, service: str, *, actor: str) -> Lease | None:
        """Delete the lease whoever holds it, and audit (`lock.force_release`) that `actor` did."""
        row = self.conn.execute(delete(leases).where(_key(environment, service)).returning(*leases.c)).first()
        removed = None if row is None else self._lease(row)
        details: dict[str, Any] = {"released": removed is not None}
        if removed is not None:
            details.update(
                owner=removed.owner,
                reason=removed.reason,
                acquired_at=removed.acquired_at.isoformat(),
                expires_at=removed.expires_at.isoformat(),
                expired=removed.expired,
            )
        AuditLog(self.conn, self.clock).record(
            actor=actor,
            action="lock.force_release",
            environment=environment,
            service=service,
            details=details,
        )
        return removed


def _columns(lease: Lease) -> dict[str, Any]:
    """The stored columns of a lease (everything but the computed `expired`)."""
    return {k: v for k, v in dataclasses.asdict(lease).items() if k not in ("expired", "dead")}
