"""The backup catalog and drill records. The catalog mirrors the manifests in storage and can be rebuilt
from them alone (`tiation backup catalog rebuild`): storage is the truth, the catalog is an index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from tiation.errors import StateError
from tiation.state.mapper import RowMapper
from tiation.state.repository import Repository
from tiation.state.rows import redacted_json
from tiation.state.schema import backups, drills


@dataclass(frozen=True)
class BackupRow:
    """One complete backup as the catalog knows it."""

    id: str
    name: str
    storage: str
    started_at: datetime
    finished_at: datetime
    size: int
    sha256: str
    manifest: dict[str, Any]
    pinned: bool
    verified: bool | None
    verified_at: datetime | None
    verify_detail: str | None


@dataclass(frozen=True)
class DrillRow:
    """One restore drill: how long a real restore took, against the objective."""

    id: int
    name: str
    backup_id: str
    started_at: datetime
    finished_at: datetime
    passed: bool
    rto_s: float
    objective_s: float | None
    phases: dict[str, Any]
    detail: str


backup_row = RowMapper(BackupRow)
drill_row = RowMapper(DrillRow)


class Backups(Repository):
    """The backup catalog: an index of the manifests in storage."""

    def record(
        self,
        *,
        backup_id: str,
        name: str,
        storage: str,
        started_at: datetime,
        finished_at: datetime,
        size: int,
        sha256: str,
        manifest: Mapping[str, Any],
    ) -> None:
        """Add a backup to the catalog, or refresh its manifest facts (pin and verify state are kept)."""
        values = {
            "name": name,
            "storage": storage,
            "started_at": started_at,
            "finished_at": finished_at,
            "size": size,
            "sha256": sha256,
            "manifest": redacted_json(manifest),
        }
        found = self.conn.execute(select(backups.c.seq).where(backups.c.id == backup_id)).first()
        if found is None:
            self.conn.execute(insert(backups).values(id=backup_id, pinned=False, **values))
        else:
            self.conn.execute(update(backups).where(backups.c.id == backup_id).values(**values))

    def find(self, *, name: str | None = None, storage: str | None = None) -> list[BackupRow]:
        """Backups (of one name, in one storage), newest first."""
        query = select(backups)
        if name is not None:
            query = query.where(backups.c.name == name)
        if storage is not None:
            query = query.where(backups.c.storage == storage)
        rows = self.conn.execute(query.order_by(backups.c.finished_at.desc(), backups.c.seq.desc()))
        return [backup_row(r) for r in rows]

    def get(self, backup_id: str) -> BackupRow | None:
        """A backup by id, or by a unique prefix of at least 4 characters."""
        row = self.conn.execute(select(backups).where(backups.c.id == backup_id)).first()
        if row is not None or len(backup_id) < 4:
            return None if row is None else backup_row(row)
        escaped = backup_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.conn.execute(
            select(backups).where(backups.c.id.like(f"{escaped}%", escape="\\")).limit(2)
        ).all()
        if len(rows) > 1:
            raise StateError(f"backup id prefix {backup_id!r} is ambiguous; give more characters")
        return backup_row(rows[0]) if rows else None

    def set_verified(self, backup_id: str, *, ok: bool, detail: str) -> None:
        """Record the result of a verify."""
        self.conn.execute(
            update(backups)
            .where(backups.c.id == backup_id)
            .values(verified=ok, verified_at=self.clock.now(), verify_detail=detail)
        )

    def set_pinned(self, backup_id: str, pinned: bool) -> None:
        """Pin (never pruned) or unpin a backup."""
        self.conn.execute(update(backups).where(backups.c.id == backup_id).values(pinned=pinned))

    def forget(self, backup_id: str) -> None:
        """Drop a backup from the catalog (after it was deleted from storage, or is gone from it)."""
        self.conn.execute(delete(backups).where(backups.c.id == backup_id))


class Drills(Repository):
    """Restore drills: measured RTOs next to their objectives."""

    def record(
        self,
        *,
        name: str,
        backup_id: str,
        started_at: datetime,
        passed: bool,
        rto_s: float,
        objective_s: float | None,
        phases: Mapping[str, Any],
        detail: str,
    ) -> int:
        """Store a drill result (finished now); returns the drill id."""
        result = self.conn.execute(
            insert(drills).values(
                name=name,
                backup_id=backup_id,
                started_at=started_at,
                finished_at=self.clock.now(),
                passed=passed,
                rto_s=rto_s,
                objective_s=objective_s,
                phases=redacted_json(phases),
                detail=detail,
            )
        )
        key = result.inserted_primary_key
        return int(key[0]) if key else 0

    def recent(self, *, name: str | None = None, limit: int = 50) -> list[DrillRow]:
        """Drills, newest first."""
        query = select(drills)
        if name is not None:
            query = query.where(drills.c.name == name)
        rows = self.conn.execute(query.order_by(drills.c.started_at.desc(), drills.c.id.desc()).limit(limit))
        return [drill_row(r) for r in rows]
