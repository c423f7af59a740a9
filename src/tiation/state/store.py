"""The state store: releases, deployments, leases, approvals and the audit log, on SQLite or PostgreSQL.

`StateStore` is the one entry point; the work is done in `releases`, `leases` and `audit`. Every method
turns a database failure into a one-line `StateError` (URL redacted); lease conflicts are `LockHeldError`s.
Times come from the injected clock and are returned timezone-aware (UTC).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any

from tiation.clock import Clock
from tiation.state import audit as _audit
from tiation.state import catalog as _catalog
from tiation.state import leases as _leases
from tiation.state import oncall as _oncall
from tiation.state import releases as _releases
from tiation.state.alerts import AlertTx
from tiation.state.catalog import BackupRow, DrillRow
from tiation.state.db import Database, open_database
from tiation.state.location import default_state_url
from tiation.state.oncall import OverrideRow
from tiation.state.rows import ApprovalRow, AuditRow, DeploymentRow, Lease, ReleaseRow

__all__ = ["StateStore", "default_state_url"]


class StateStore:
    """Durable state of a platform. Open with `StateStore.open(url, clock=...)`; close (or use `with`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @classmethod
    def open(cls, url: str, *, clock: Clock) -> StateStore:
        """Connect to `url` (creating a SQLite file's directory); migrate the schema if it is not current."""
        return cls(open_database(url, clock=clock))

    def close(self) -> None:
        """Close every connection."""
        self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def url_display(self) -> str:
        """The store's URL with any password masked."""
        return self._db.url_display

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self._db.backend

    # alerting ------------------------------------------------------------------------------------------

    @contextmanager
    def alerts_write(self, action: str) -> Iterator[AlertTx]:
        """The alerting tables inside one write transaction (committed on success); errors name `action`."""
        with self._db.guard(action), self._db.write() as conn:
            yield AlertTx(conn)

    @contextmanager
    def alerts_read(self, action: str) -> Iterator[AlertTx]:
        """The alerting tables inside one read transaction."""
        with self._db.guard(action), self._db.read() as conn:
            yield AlertTx(conn)

    # releases -----------------------------------------------------------------------------------------

    def save_release(
        self, *, environment: str, service: str, version: str, digest: str, spec: dict[str, Any]
    ) -> None:
        """Store a release (idempotent on environment, service and digest). `spec` is stored as given."""
        with self._db.guard("save a release"):
            _releases.save_release(
                self._db, environment=environment, service=service, version=version, digest=digest, spec=spec
            )

    def get_release(
        self, environment: str, service: str, *, version: str | None = None, digest: str | None = None
    ) -> ReleaseRow | None:
        """The release with `digest`, else the newest saved with `version`; None if there is none."""
        with self._db.guard("read a release"):
            return _releases.get_release(self._db, environment, service, version=version, digest=digest)

    def list_releases(self, environment: str, service: str) -> list[ReleaseRow]:
        """Saved releases of one service in one environment, newest first."""
        with self._db.guard("list releases"):
            return _releases.list_releases(self._db, environment, service)

    def quarantine(self, environment: str, service: str, digest: str, *, reason: str) -> None:
        """Mark a release as failed verification: it is skipped as a rollback target."""
        with self._db.guard("quarantine a release"):
            _releases.set_quarantine(self._db, environment, service, digest, quarantined=True, reason=reason)

    def unquarantine(self, environment: str, service: str, digest: str) -> None:
        """Clear a release's quarantine."""
        with self._db.guard("unquarantine a release"):
            _releases.set_quarantine(self._db, environment, service, digest, quarantined=False, reason=None)

    # deployments --------------------------------------------------------------------------------------

    def create_deployment(
        self,
        *,
        environment: str,
        service: str,
        version: str,
        digest: str,
        actor: str,
        kind: str,
        parent_id: str | None = None,
    ) -> str:
        """Record a running deployment (`deploy`, `rollback` or `auto-rollback`); returns its 12-hex id."""
        with self._db.guard("record a deployment"):
            return _releases.create_deployment(
                self._db,
                environment=environment,
                service=service,
                version=version,
                digest=digest,
                actor=actor,
                kind=kind,
                parent_id=parent_id,
            )

    def finish_deployment(
        self, deployment_id: str, *, status: str, verdict: str, evidence: dict[str, Any]
    ) -> None:
        """Record the outcome (`succeeded`, `failed`, `rolled_back`, `aborted`); evidence is redacted."""
        with self._db.guard("finish a deployment"):
            _releases.finish_deployment(
                self._db, deployment_id, status=status, verdict=verdict, evidence=evidence
            )

    def get_deployment(self, deployment_id: str) -> DeploymentRow | None:
        """A deployment by id or unique id prefix (4+ characters); StateError if the prefix is ambiguous."""
        with self._db.guard("read a deployment"):
            return _releases.get_deployment(self._db, deployment_id)

    def list_deployments(
        self, *, environment: str | None = None, service: str | None = None, limit: int = 50
    ) -> list[DeploymentRow]:
        """Deployments, newest first."""
        with self._db.guard("list deployments"):
            return _releases.list_deployments(self._db, environment=environment, service=service, limit=limit)

    def last_known_good(
        self, environment: str, service: str, *, exclude_digests: Collection[str] = ()
    ) -> ReleaseRow | None:
        """The release of the newest succeeded deployment that is not quarantined and not excluded."""
        with self._db.guard("find the last known good release"):
            return _releases.last_known_good(self._db, environment, service, exclude_digests=exclude_digests)

    def current_deployment(self, environment: str, service: str) -> DeploymentRow | None:
        """The newest succeeded deployment: what should be serving."""
        with self._db.guard("read the current deployment"):
            return _releases.current_deployment(self._db, environment, service)

    # leases -------------------------------------------------------------------------------------------

    def acquire_lease(self, environment: str, service: str, *, owner: str, reason: str, ttl: float) -> Lease:
        """Take the lock on (environment, service) for `ttl` seconds; LockHeldError if someone holds it."""
        with self._db.guard("acquire a lease"):
            return _leases.acquire(self._db, environment, service, owner=owner, reason=reason, ttl=ttl)

    def heartbeat(self, lease: Lease) -> Lease:
        """Extend a lease we still hold by its ttl; LockHeldError('lease lost …') if it is no longer ours."""
        with self._db.guard("heartbeat a lease"):
            return _leases.heartbeat(self._db, lease)

    def release_lease(self, lease: Lease) -> None:
        """Release a lease if it is still ours (a lost lease is left alone)."""
        with self._db.guard("release a lease"):
            _leases.release(self._db, lease)

    def list_leases(self) -> list[Lease]:
        """Every lease, expired ones included (see `Lease.expired`)."""
        with self._db.guard("list leases"):
            return _leases.list_all(self._db)

    def force_release(self, environment: str, service: str, *, actor: str) -> Lease | None:
        """Remove whatever lease is held on (environment, service), auditing `lock.force_release`."""
        with self._db.guard("force-release a lease"):
            return _leases.force_release(self._db, environment, service, actor=actor)

    # approvals ----------------------------------------------------------------------------------------

    def add_approval(
        self, *, environment: str, service: str, version: str, digest: str, actor: str, expires_at: datetime
    ) -> ApprovalRow:
        """Record an approval of release `digest` by `actor`, valid until `expires_at`."""
        with self._db.guard("record an approval"):
            return _audit.add_approval(
                self._db,
                environment=environment,
                service=service,
                version=version,
                digest=digest,
                actor=actor,
                expires_at=expires_at,
            )

    def approvals_for(self, environment: str, service: str, digest: str) -> list[ApprovalRow]:
        """Every approval of release `digest`, expired ones included, oldest first."""
        with self._db.guard("read approvals"):
            return _audit.approvals_for(self._db, environment, service, digest)

    # audit --------------------------------------------------------------------------------------------

    def audit(
        self,
        *,
        actor: str,
        action: str,
        environment: str | None = None,
        service: str | None = None,
        deployment_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append an audit event; `details` is redacted before it is stored."""
        with self._db.guard("write the audit log"):
            _audit.audit(
                self._db,
                actor=actor,
                action=action,
                environment=environment,
                service=service,
                deployment_id=deployment_id,
                details=details,
            )

    def audit_events(self, *, deployment_id: str | None = None, limit: int = 200) -> list[AuditRow]:
        """The newest `limit` audit events (optionally of one deployment), oldest first."""
        with self._db.guard("read the audit log"):
            return _audit.audit_events(self._db, deployment_id=deployment_id, limit=limit)

    # -- backup catalog ---------------------------------------------------------------------------------------
    def record_backup(
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
        """Add (or refresh) a complete backup in the catalog."""
        with self._db.guard("record a backup"):
            _catalog.record_backup(
                self._db,
                backup_id=backup_id,
                name=name,
                storage=storage,
                started_at=started_at,
                finished_at=finished_at,
                size=size,
                sha256=sha256,
                manifest=manifest,
            )

    def list_backups(self, *, name: str | None = None, storage: str | None = None) -> list[BackupRow]:
        """Backups in the catalog, newest first."""
        with self._db.guard("list backups"):
            return _catalog.list_backups(self._db, name=name, storage=storage)

    def get_backup(self, backup_id: str) -> BackupRow | None:
        """A backup by id or unique prefix."""
        with self._db.guard("read a backup"):
            return _catalog.get_backup(self._db, backup_id)

    def set_backup_verified(self, backup_id: str, *, ok: bool, detail: str) -> None:
        """Record a verify result."""
        with self._db.guard("record a verify"):
            _catalog.set_verified(self._db, backup_id, ok=ok, detail=detail)

    def set_backup_pinned(self, backup_id: str, pinned: bool) -> None:
        """Pin or unpin a backup."""
        with self._db.guard("pin a backup"):
            _catalog.set_pinned(self._db, backup_id, pinned)

    def forget_backup(self, backup_id: str) -> None:
        """Remove a backup from the catalog."""
        with self._db.guard("forget a backup"):
            _catalog.forget_backup(self._db, backup_id)

    def record_drill(
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
        """Store a drill result; returns its id."""
        with self._db.guard("record a drill"):
            return _catalog.record_drill(
                self._db,
                name=name,
                backup_id=backup_id,
                started_at=started_at,
                passed=passed,
                rto_s=rto_s,
                objective_s=objective_s,
                phases=phases,
                detail=detail,
            )

    def list_drills(self, *, name: str | None = None, limit: int = 50) -> list[DrillRow]:
        """Drills, newest first."""
        with self._db.guard("list drills"):
            return _catalog.list_drills(self._db, name=name, limit=limit)

    # -- on-call overrides ----------------------------------------------------------------------------------
    def add_oncall_override(
        self, *, schedule: str, person: str, start: datetime, end: datetime, reason: str, actor: str
    ) -> OverrideRow:
        """Store an on-call override (audited as `oncall.override.add`)."""
        with self._db.guard("add an on-call override"):
            return _oncall.add_override(
                self._db, schedule=schedule, person=person, start=start, end=end, reason=reason, actor=actor
            )

    def list_oncall_overrides(
        self,
        *,
        schedule: str | None = None,
        ending_after: datetime | None = None,
        starting_before: datetime | None = None,
    ) -> list[OverrideRow]:
        """Stored on-call overrides (of one schedule, overlapping a range), oldest first."""
        with self._db.guard("list on-call overrides"):
            return _oncall.list_overrides(
                self._db, schedule=schedule, ending_after=ending_after, starting_before=starting_before
            )

    def remove_oncall_override(self, override_id: int, *, actor: str) -> OverrideRow | None:
        """Delete an on-call override (audited as `oncall.override.remove`); None if there is no such id."""
        with self._db.guard("remove an on-call override"):
            return _oncall.remove_override(self._db, override_id, actor=actor)
