"""On-call overrides added through the CLI or the API. Adding and removing one is audited in the same
transaction (`oncall.override.add` / `oncall.override.remove`, with schedule, person, start and end)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select

from tiation.errors import StateError
from tiation.state.audit import AuditLog
from tiation.state.mapper import RowMapper
from tiation.state.repository import Repository
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


override_row = RowMapper(OverrideRow, columns={"start": "starts_at", "end": "ends_at"})


class Overrides(Repository):
    """On-call overrides; adding and removing one is audited in the same transaction."""

    def add(
        self, *, schedule: str, person: str, start: datetime, end: datetime, reason: str, actor: str
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
            "created_at": self.clock.now(),
        }
        row = override_row(self.conn.execute(insert(table).values(**values).returning(*table.c)).one())
        self._audit(actor, "oncall.override.add", row)
        return row

    def find(
        self,
        *,
        schedule: str | None = None,
        ending_after: datetime | None = None,
        starting_before: datetime | None = None,
    ) -> list[OverrideRow]:
        """Overrides (of one schedule), optionally only those overlapping a time range, oldest id first."""
        query = select(table)
        if schedule is not None:
            query = query.where(table.c.schedule == schedule)
        if ending_after is not None:
            query = query.where(table.c.ends_at > ending_after)
        if starting_before is not None:
            query = query.where(table.c.starts_at < starting_before)
        return [override_row(r) for r in self.conn.execute(query.order_by(table.c.id))]

    def remove(self, override_id: int, *, actor: str) -> OverrideRow | None:
        """Delete an override and audit who did; returns what was removed (None, and no audit, if none)."""
        found = self.conn.execute(select(table).where(table.c.id == override_id)).first()
        if found is None:
            return None
        row = override_row(found)
        self.conn.execute(delete(table).where(table.c.id == override_id))
        self._audit(actor, "oncall.override.remove", row)
        return row

    def _audit(self, actor: str, action: str, row: OverrideRow) -> None:
        AuditLog(self.conn, self.clock).record(actor=actor, action=action, details=row.describe())
