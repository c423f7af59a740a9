"""The unit of work builds each repository once, on first use, bound to its connection and clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Connection

from tiation.clock import FakeClock
from tiation.state.audit import AuditLog
from tiation.state.releases import Releases
from tiation.state.uow import UnitOfWork


def test_repository_built_once_per_unit_of_work() -> None:
    conn = cast(Connection, object())
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    uow = UnitOfWork(conn, clock)
    assert "releases" not in vars(uow)
    first = uow.releases
    assert isinstance(first, Releases)
    assert uow.releases is first
    assert isinstance(uow.audit, AuditLog)
    assert UnitOfWork(conn, clock).releases is not first
    assert UnitOfWork.releases.__doc__ == "Saved releases and their quarantine marks."
