"""What the state store returns: frozen row types and their mappers, and the JSON helpers stored documents
go through."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tiation.redact import redact
from tiation.state.mapper import RowMapper, load_json

__all__ = [
    "ApprovalRow",
    "AuditRow",
    "DeploymentRow",
    "Lease",
    "ReleaseRow",
    "approval_row",
    "audit_row",
    "deployment_row",
    "lease_row",
    "load_json",
    "plain_json",
    "redacted_json",
    "release_row",
]


@dataclass(frozen=True)
class ReleaseRow:
    """A saved release: everything needed to bring that version back (`spec` holds secret references only)."""

    environment: str
    service: str
    version: str
    digest: str
    spec: dict[str, Any]
    created_at: datetime
    quarantined: bool
    quarantine_reason: str | None


@dataclass(frozen=True)
class DeploymentRow:
    """One deploy, rollback or auto-rollback, and (once finished) its outcome and evidence."""

    id: str
    environment: str
    service: str
    version: str
    digest: str
    kind: str
    status: str
    verdict: str | None
    evidence: dict[str, Any]
    actor: str
    parent_id: str | None
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class Lease:
    """The lock on one (environment, service); `token` proves which acquisition it is."""

    environment: str
    service: str
    owner: str
    reason: str
    token: str
    acquired_at: datetime
    heartbeat_at: datetime
    expires_at: datetime
    expired: bool
    dead: str = ""  # why the holder is provably dead ("pid 123 gone"), or "" if it may be alive

    @property
    def ttl(self) -> timedelta:
        """How long each heartbeat extends the lease by."""
        return self.expires_at - self.heartbeat_at

    @property
    def key(self) -> str:
        """`environment/service`, as shown to users."""
        return f"{self.environment}/{self.service}"

    def expires_in(self, now: datetime) -> int:
        """Whole seconds until expiry (rounded up, never negative)."""
        return max(0, math.ceil((self.expires_at - now).total_seconds()))

    def held_message(self, now: datetime) -> str:
        """The one-line `LockHeldError` message for someone else who wants this lease."""
        why = f" ({self.reason})" if self.reason else ""
        since = self.acquired_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"{self.key} is locked by {self.owner}{why} since {since}; expires in {self.expires_in(now)}s"
            f" — wait, or `tiation lock release {self.environment} {self.service} --force`"
        )


@dataclass(frozen=True)
class ApprovalRow:
    """An approval of one release (bound to its digest), valid until `expires_at`."""

    id: int
    environment: str
    service: str
    version: str
    digest: str
    actor: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class AuditRow:
    """One audit event; `details` was redacted before it was stored."""

    id: int
    at: datetime
    actor: str
    action: str
    environment: str | None
    service: str | None
    deployment_id: str | None
    details: dict[str, Any]


def _redact_tree(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(k)): _redact_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_tree(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


def redacted_json(document: Mapping[str, Any] | None) -> str:
    """`document` as JSON text with every secret masked, ready to store.

    Each string is redacted on its own (so a secret that JSON would escape is still caught), then the whole
    text is redacted once more (json.dumps → redact → json.loads) so nothing slips through between values.
    """
    tree = _redact_tree(dict(document or {}))
    text = redact(json.dumps(tree, ensure_ascii=False, sort_keys=True))
    with contextlib.suppress(ValueError):  # if a mask landed on JSON syntax, keep the per-value redaction
        tree = json.loads(text)
    return json.dumps(tree, ensure_ascii=False, sort_keys=True)


def plain_json(document: Mapping[str, Any]) -> str:
    """`document` as JSON text, unchanged (release specs must come back exactly)."""
    return json.dumps(dict(document), ensure_ascii=False, sort_keys=True)


release_row = RowMapper(ReleaseRow)
deployment_row = RowMapper(DeploymentRow)
lease_row = RowMapper(Lease, given=("expired", "dead"))
approval_row = RowMapper(ApprovalRow)
audit_row = RowMapper(AuditRow)
