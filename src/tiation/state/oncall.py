"""On-call overrides added through the CLI or the API. Adding and removing one is audited in the same
transaction (`oncall.override.add` / `oncall.override.remove`, with schedule, person, start and end)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select

from tiation.errors import StateError
from tiation.state.audit import write_audit
from tiation.state.db import Database
from tiation.state.rows import utc
from tiation.state.schema import oncall_overrides as table


@dataclass(frozen=True)
class OverrideRow:
    """A stored override: `person` is on call for `schedule` from `start` to `end`."""

    id: int
    schedule: str
    person: str
    start: datetime
    end: datetime
    reason: str
    actor: str
    created_at: datetime

    def describe(self) -> dict[str, Any]:
        """The row as JSON-ready values (what the audit log records)."""
        return {
            "id": self.id,
            "schedule": self.schedule,
            "person": self.person,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "reason": self.reason,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
        }


def _row(row: Row[Any]) -> OverrideRow:
    m = row._mapping
    return OverrideRow(
        id=int(m["id"]),
        schedule=m["schedule"],
        person=m["person"],
        start=utc(m["starts_at"]),
        end=utc(m["ends_at"]),
        reason=m["reason"],
        actor=m["actor"],
        created_at=utc(m["created_at"]),
    )


def add_override(
    db: Database, *, schedule: str, person: str, start: datetime, end: datetime, reason: str, actor: str
) -> OverrideRow:
    """Store an override and audit it; StateError for naive times or an end not after the start."""
    if start.tzinfo is None or end.tzinfo is None:
        raise StateError("an override's start and end must be timezone-aware")
    if end <= start:
        raise StateError("an override must end after it starts")
    values = {
        "schedule": schedule,
        "person": person,
        "starts_at": start,
        "ends_at": end,
        "reason": reason,
        "actor": actor,
        "created_at": db.clock.now(),
    }
    with db.write() as conn:
        result = conn.execute(insert(table).values(**values))
        new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        found = conn.execute(select(table).where(table.c.id == new_id)).first()
        if found is None:  # pragma: no cover - we just inserted it
            raise StateError("the override was not stored")
        row = _row(found)
        write_audit(
            db,
            conn,
            actor=actor,
            action="oncall.override.add",
            environment=None,
            service=None,
            deployment_id=None,
            details=row.describe(),
        )
    return row


def list_overrides(
    db: Database, *, schedule: str | None, ending_after: datetime | None, starting_before: datetime | None
) -> list[OverrideRow]:
    """Overrides (of one schedule), optionally only those overlapping a time range, oldest id first."""
    query = select(table)
    if schedule is not None:
        query = query.where(table.c.schedule == schedule)
    if ending_after is not None:
        query = query.where(table.c.ends_at > ending_after)
    if starting_before is not None:
        query = query.where(table.c.starts_at < starting_before)
    with db.read() as conn:
        return [_row(r) for r in conn.execute(query.order_by(table.c.id))]


def remove_override(db: Database, override_id: int, *, actor: str) -> OverrideRow | None:
    """Delete an override and audit who did; returns what was removed (None, and no audit, if none)."""
    with db.write() as conn:
        found = conn.execute(select(table).where(table.c.id == override_id)).first()
        if found is None:
            return None
        row = _row(found)
        conn.execute(delete(table).where(table.c.id == override_id))
        write_audit(
            db,
            conn,
            actor=actor,
            action="oncall.override.remove",
            environment=None,
            service=None,
            deployment_id=None,
            details=row.describe(),
        )
    return row
