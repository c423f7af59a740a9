"""The backup catalog and drill records. The catalog mirrors the manifests in storage and can be rebuilt
from them alone (`tiation backup catalog rebuild`): storage is the truth, the catalog is an index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from tiation.errors import StateError
from tiation.state.db import Database
from tiation.state.rows import load_json, redacted_json, utc
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


def _backup(row: Row[Any]) -> BackupRow:
    m = row._mapping
    return BackupRow(
        id=m["id"],
        name=m["name"],
        storage=m["storage"],
        started_at=utc(m["started_at"]),
        finished_at=utc(m["finished_at"]),
        size=int(m["size"]),
        sha256=m["sha256"],
        manifest=load_json(m["manifest"]),
        pinned=bool(m["pinned"]),
        verified=None if m["verified"] is None else bool(m["verified"]),
        verified_at=None if m["verified_at"] is None else utc(m["verified_at"]),
        verify_detail=m["verify_detail"],
    )


def record_backup(
    db: Database,
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
    with db.write() as conn:
        found = conn.execute(select(backups.c.seq).where(backups.c.id == backup_id)).first()
        if found is None:
            conn.execute(insert(backups).values(id=backup_id, pinned=False, **values))
        else:
            conn.execute(update(backups).where(backups.c.id == backup_id).values(**values))


def list_backups(db: Database, *, name: str | None, storage: str | None) -> list[BackupRow]:
    """Backups, newest first."""
    query = select(backups)
    if name is not None:
        query = query.where(backups.c.name == name)
    if storage is not None:
        query = query.where(backups.c.storage == storage)
    with db.read() as conn:
        rows = conn.execute(query.order_by(backups.c.finished_at.desc(), backups.c.seq.desc()))
        return [_backup(r) for r in rows]


def get_backup(db: Database, backup_id: str) -> BackupRow | None:
    """A backup by id, or by a unique prefix of at least 4 characters."""
    with db.read() as conn:
        row = conn.execute(select(backups).where(backups.c.id == backup_id)).first()
        if row is not None or len(backup_id) < 4:
            return None if row is None else _backup(row)
        escaped = backup_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = conn.execute(
            select(backups).where(backups.c.id.like(f"{escaped}%", escape="\\")).limit(2)
        ).all()
    if len(rows) > 1:
        raise StateError(f"backup id prefix {backup_id!r} is ambiguous; give more characters")
    return _backup(rows[0]) if rows else None


def set_verified(db: Database, backup_id: str, *, ok: bool, detail: str) -> None:
    """Record the result of a verify."""
    with db.write() as conn:
        conn.execute(
            update(backups)
            .where(backups.c.id == backup_id)
            .values(verified=ok, verified_at=db.clock.now(), verify_detail=detail)
        )


def set_pinned(db: Database, backup_id: str, pinned: bool) -> None:
    """Pin (never pruned) or unpin a backup."""
    with db.write() as conn:
        conn.execute(update(backups).where(backups.c.id == backup_id).values(pinned=pinned))


def forget_backup(db: Database, backup_id: str) -> None:
    """Drop a backup from the catalog (after it was deleted from storage, or is gone from it)."""
    with db.write() as conn:
        conn.execute(delete(backups).where(backups.c.id == backup_id))


def record_drill(
    db: Database,
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
    """Store a drill's measured RTO next to its objective; returns the drill id."""
    with db.write() as conn:
        result = conn.execute(
            insert(drills).values(
                name=name,
                backup_id=backup_id,
                started_at=started_at,
                finished_at=db.clock.now(),
                passed=passed,
                rto_s=rto_s,
                objective_s=objective_s,
                phases=redacted_json(phases),
                detail=detail,
            )
        )
        key = result.inserted_primary_key
        return int(key[0]) if key else 0


def list_drills(db: Database, *, name: str | None, limit: int) -> list[DrillRow]:
    """Drills, newest first."""
    query = select(drills)
    if name is not None:
        query = query.where(drills.c.name == name)
    with db.read() as conn:
        rows = conn.execute(query.order_by(drills.c.started_at.desc(), drills.c.id.desc()).limit(limit))
        return [
            DrillRow(
                id=int(r._mapping["id"]),
                name=r._mapping["name"],
                backup_id=r._mapping["backup_id"],
                started_at=utc(r._mapping["started_at"]),
                finished_at=utc(r._mapping["finished_at"]),
                passed=bool(r._mapping["passed"]),
                rto_s=float(r._mapping["rto_s"]),
                objective_s=None if r._mapping["objective_s"] is None else float(r._mapping["objective_s"]),
                phases=load_json(r._mapping["phases"]),
                detail=r._mapping["detail"],
            )
            for r in rows
        ]
