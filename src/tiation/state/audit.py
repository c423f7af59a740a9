"""The audit log and approvals. Everything free-form is redacted before it is stored."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select

from tiation.errors import StateError
from tiation.state.db import Database
from tiation.state.rows import ApprovalRow, AuditRow, load_json, redacted_json
from tiation.state.schema import approvals
from tiation.state.schema import audit_events as events_table


def _audit(row: Row[Any]) -> AuditRow:
    m = row._mapping
    return AuditRow(
        id=int(m["id"]),
        at=m["at"],
        actor=m["actor"],
        action=m["action"],
        environment=m["environment"],
        service=m["service"],
        deployment_id=m["deployment_id"],
        details=load_json(m["details"]),
    )


def _approval(row: Row[Any]) -> ApprovalRow:
    m = row._mapping
    return ApprovalRow(
        id=int(m["id"]),
        environment=m["environment"],
        service=m["service"],
        version=m["version"],
        digest=m["digest"],
        actor=m["actor"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
    )


def write_audit(
    db: Database,
    conn: Connection,
    *,
    actor: str,
    action: str,
    environment: str | None,
    service: str | None,
    deployment_id: str | None,
    details: Mapping[str, Any] | None,
) -> None:
    """Append one audit event inside the caller's transaction."""
    conn.execute(
        insert(events_table).values(
            at=db.clock.now(),
            actor=actor,
            action=action,
            environment=environment,
            service=service,
            deployment_id=deployment_id,
            details=redacted_json(details),
        )
    )


def audit(
    db: Database,
    *,
    actor: str,
    action: str,
    environment: str | None,
    service: str | None,
    deployment_id: str | None,
    details: Mapping[str, Any] | None,
) -> None:
    """Append one audit event in its own transaction."""
    with db.write() as conn:
        write_audit(
            db,
            conn,
            actor=actor,
            action=action,
            environment=environment,
            service=service,
            deployment_id=deployment_id,
            details=details,
        )


def audit_events(db: Database, *, deployment_id: str | None, limit: int) -> list[AuditRow]:
    """The newest `limit` events (optionally of one deployment), returned oldest first."""
    query = select(events_table)
    if deployment_id is not None:
        query = query.where(events_table.c.deployment_id == deployment_id)
    query = query.order_by(events_table.c.at.desc(), events_table.c.id.desc()).limit(max(0, limit))
    with db.read() as conn:
        rows = conn.execute(query).all()
    return [_audit(row) for row in reversed(rows)]


def add_approval(
    db: Database,
    *,
    environment: str,
    service: str,
    version: str,
    digest: str,
    actor: str,
    expires_at: datetime,
) -> ApprovalRow:
    """Record that `actor` approved the release `digest` until `expires_at`."""
    if expires_at.tzinfo is None:
        raise StateError("an approval's expires_at must be timezone-aware")
    values = {
        "environment": environment,
        "service": service,
        "version": version,
        "digest": digest,
        "actor": actor,
        "created_at": db.clock.now(),
        "expires_at": expires_at,
    }
    with db.write() as conn:
        result = conn.execute(insert(approvals).values(**values))
        new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        row = conn.execute(select(approvals).where(approvals.c.id == new_id)).first()
    if row is None:  # pragma: no cover - we just inserted it
        raise StateError("the approval was not stored")
    return _approval(row)


def approvals_for(db: Database, environment: str, service: str, digest: str) -> list[ApprovalRow]:
    """Every approval of one release, expired ones included, oldest first."""
    query = (
        select(approvals)
        .where(
            approvals.c.environment == environment,
            approvals.c.service == service,
            approvals.c.digest == digest,
        )
        .order_by(approvals.c.created_at, approvals.c.id)
    )
    with db.read() as conn:
        return [_approval(row) for row in conn.execute(query)]
