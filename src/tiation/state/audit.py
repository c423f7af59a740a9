"""The audit log and approvals. Everything free-form is redacted before it is stored."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from tiation.errors import StateError
from tiation.state.repository import Repository
from tiation.state.rows import ApprovalRow, AuditRow, approval_row, audit_row, redacted_json
from tiation.state.schema import approvals
from tiation.state.schema import audit_events as events_table


class AuditLog(Repository):
    """Who did what, appended in the same transaction as what they did."""

    def record(
        self,
        *,
        actor: str,
        action: str,
        environment: str | None = None,
        service: str | None = None,
        deployment_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Append an audit event; `details` is redacted before it is stored."""
        self.conn.execute(
            insert(events_table).values(
                at=self.clock.now(),
                actor=actor,
                action=action,
                environment=environment,
                service=service,
                deployment_id=deployment_id,
                details=redacted_json(details),
            )
        )

    def events(self, *, deployment_id: str | None = None, limit: int = 200) -> list[AuditRow]:
        """The newest `limit` events (optionally of one deployment), returned oldest first."""
        query = select(events_table)
        if deployment_id is not None:
            query = query.where(events_table.c.deployment_id == deployment_id)
        query = query.order_by(events_table.c.at.desc(), events_table.c.id.desc()).limit(max(0, limit))
        rows = self.conn.execute(query).all()
        return [audit_row(row) for row in reversed(rows)]


class Approvals(Repository):
    """Approvals of releases, bound to their digests."""

    def add(
        self, *, environment: str, service: str, version: str, digest: str, actor: str, expires_at: datetime
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
            "created_at": self.clock.now(),
            "expires_at": expires_at,
        }
        return approval_row(
            self.conn.execute(insert(approvals).values(**values).returning(*approvals.c)).one()
        )

    def for_release(self, environment: str, service: str, digest: str) -> list[ApprovalRow]:
        """Every approval of release `digest`, expired ones included, oldest first."""
        query = (
            select(approvals)
            .where(
                approvals.c.environment == environment,
                approvals.c.service == service,
                approvals.c.digest == digest,
            )
            .order_by(approvals.c.created_at, approvals.c.id)
        )
        return [approval_row(row) for row in self.conn.execute(query)]
