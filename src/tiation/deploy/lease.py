"""Holding the (environment, service) lease around anything that changes what runs (deploy, rollback, stop)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from tiation.state import Lease, StateStore


def lease_owner(actor: str) -> str:
    """Who holds a lease taken by this process: actor, host and pid (the holder string `lock list` shows)."""
    return f"{actor}@{socket.gethostname()} pid {os.getpid()}"


@contextmanager
def held_lease(
    store: StateStore, environment: str, service: str, *, actor: str, reason: str, ttl: float
) -> Iterator[Lease]:
    """Take the lease (LockHeldError naming the holder if someone else has it), audit it, release it after."""
    with store.write("acquire a lease") as uow:
        lease = uow.leases.acquire(environment, service, owner=lease_owner(actor), reason=reason, ttl=ttl)
        uow.audit.record(
            actor=actor,
            action="lock.acquire",
            environment=environment,
            service=service,
            details={"reason": reason},
        )
    try:
        yield lease
    finally:
        with store.write("release a lease") as uow:
            uow.leases.release(lease)
            uow.audit.record(actor=actor, action="lock.release", environment=environment, service=service)
