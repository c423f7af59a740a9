"""Releases (what can be brought back) and deployments (what was done, and how it ended)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from secrets import token_hex
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from tiation.errors import StateError
from tiation.redact import redact
from tiation.state.repository import Repository
from tiation.state.rows import (
    DeploymentRow,
    ReleaseRow,
    deployment_row,
    plain_json,
    redacted_json,
    release_row,
)
from tiation.state.schema import deployments, releases

DEPLOYMENT_KINDS = ("deploy", "rollback", "auto-rollback")
FINAL_STATUSES = ("succeeded", "failed", "rolled_back", "aborted")
ID_LEN = 12
MIN_PREFIX = 4
_HEX = re.compile(r"[0-9a-f]+")
_NEWEST_DEPLOYMENT = (deployments.c.started_at.desc(), deployments.c.seq.desc())
_NEWEST_RELEASE = (releases.c.created_at.desc(), releases.c.seq.desc())


def _release_key(environment: str, service: str, digest: str) -> Any:
    return (
        (releases.c.environment == environment)
        & (releases.c.service == service)
        & (releases.c.digest == digest)
    )


class Releases(Repository):
    """Saved releases: everything needed to bring a version back, and their quarantine marks."""

    def save(
        self, *, environment: str, service: str, version: str, digest: str, spec: Mapping[str, Any]
    ) -> None:
        """Store a release once; saving the same (environment, service, digest) again changes nothing."""
        found = self.conn.execute(select(releases.c.seq).where(_release_key(environment, service, digest)))
        if found.first() is not None:
            return
        values = {
            "environment": environment,
            "service": service,
            "version": version,
            "digest": digest,
            "spec": plain_json(spec),
            "created_at": self.clock.now(),
            "quarantined": False,
            "quarantine_reason": None,
        }
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(releases).values(**values))
        except IntegrityError:  # saved by another process between our check and insert: same content
            pass

    def get(
        self, environment: str, service: str, *, version: str | None = None, digest: str | None = None
    ) -> ReleaseRow | None:
        """The release with `digest`, else the newest saved with `version` (else the newest saved at all)."""
        query = select(releases).where(releases.c.environment == environment, releases.c.service == service)
        if digest is not None:
            query = query.where(releases.c.digest == digest)
        if version is not None:
            query = query.where(releases.c.version == version)
        row = self.conn.execute(query.order_by(*_NEWEST_RELEASE).limit(1)).first()
        return None if row is None else release_row(row)

    def of_service(self, environment: str, service: str) -> list[ReleaseRow]:
        """Every saved release of one service in one environment, newest first."""
        query = select(releases).where(releases.c.environment == environment, releases.c.service == service)
        return [release_row(row) for row in self.conn.execute(query.order_by(*_NEWEST_RELEASE))]

    def quarantine(self, environment: str, service: str, digest: str, *, reason: str) -> None:
        """Mark a release as failed verification: it is skipped as a rollback target."""
        self._set_quarantine(environment, service, digest, redact(reason) if reason else None)

    def unquarantine(self, environment: str, service: str, digest: str) -> None:
        """Clear a release's quarantine."""
        self._set_quarantine(environment, service, digest, None, quarantined=False)

    def _set_quarantine(
        self, environment: str, service: str, digest: str, reason: str | None, *, quarantined: bool = True
    ) -> None:
        result = self.conn.execute(
            update(releases)
            .where(_release_key(environment, service, digest))
            .values(quarantined=quarantined, quarantine_reason=reason)
        )
        if result.rowcount == 0:
            raise StateError(f"no saved release {digest} for {environment}/{service}")

    def last_known_good(
        self, environment: str, service: str, *, exclude_digests: Collection[str] = ()
    ) -> ReleaseRow | None:
        """The release of the newest succeeded deployment whose release is neither quarantined nor excluded."""
        joined = deployments.join(
            releases,
            (releases.c.environment == deployments.c.environment)
            & (releases.c.service == deployments.c.service)
            & (releases.c.digest == deployments.c.digest),
        )
        query = (
            select(releases)
            .select_from(joined)
            .where(
                deployments.c.environment == environment,
                deployments.c.service == service,
                deployments.c.status == "succeeded",
                releases.c.quarantined.is_(False),
            )
            .order_by(*_NEWEST_DEPLOYMENT)
            .limit(1)
        )
        if exclude_digests:
            query = query.where(releases.c.digest.not_in(list(exclude_digests)))
        row = self.conn.execute(query).first()
        return None if row is None else release_row(row)


class Deployments(Repository):
    """Deploys, rollbacks and auto-rollbacks: started, then finished with a verdict and evidence."""

    def create(
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
        """Record a deployment that starts now (status `running`); returns its new 12-hex-character id."""
        if kind not in DEPLOYMENT_KINDS:
            raise StateError(f"unknown deployment kind {kind!r} (one of: {', '.join(DEPLOYMENT_KINDS)})")
        if parent_id is not None:
            parent = self.conn.execute(select(deployments.c.seq).where(deployments.c.id == parent_id)).first()
            if parent is None:
                raise StateError(f"parent deployment {parent_id} not found")
        values = {
            "environment": environment,
            "service": service,
            "version": version,
            "digest": digest,
            "kind": kind,
            "status": "running",
            "verdict": None,
            "evidence": "{}",
            "actor": actor,
            "parent_id": parent_id,
            "started_at": self.clock.now(),
            "finished_at": None,
        }
        for _ in range(8):
            new_id = token_hex(ID_LEN // 2)
            try:
                with self.conn.begin_nested():
                    self.conn.execute(insert(deployments).values(id=new_id, **values))
            except IntegrityError:  # the id is taken (1 in 2**48): draw again
                continue
            return new_id
        raise StateError("cannot allocate a unique deployment id")  # pragma: no cover

    def finish(self, deployment_id: str, *, status: str, verdict: str, evidence: Mapping[str, Any]) -> None:
        """Record how a deployment ended; `verdict` and `evidence` are redacted before they are stored."""
        if status not in FINAL_STATUSES:
            raise StateError(
                f"unknown final deployment status {status!r} (one of: {', '.join(FINAL_STATUSES)})"
            )
        result = self.conn.execute(
            update(deployments)
            .where(deployments.c.id == deployment_id)
            .values(
                status=status,
                verdict=redact(verdict),
                evidence=redacted_json(evidence),
                finished_at=self.clock.now(),
            )
        )
        if result.rowcount == 0:
            raise StateError(f"deployment {deployment_id} not found")

    def get(self, deployment_id: str) -> DeploymentRow | None:
        """A deployment by id or unique id prefix (4+ characters); StateError if the prefix is ambiguous."""
        prefix = deployment_id.strip().lower()
        row = self.conn.execute(select(deployments).where(deployments.c.id == prefix)).first()
        if row is not None:
            return deployment_row(row)
        if not (MIN_PREFIX <= len(prefix) < ID_LEN) or not _HEX.fullmatch(prefix):
            return None
        rows = self.conn.execute(
            select(deployments)
            .where(deployments.c.id.like(prefix + "%"))
            .order_by(*_NEWEST_DEPLOYMENT)
            .limit(6)
        ).all()
        if len(rows) > 1:
            shown = ", ".join(r._mapping["id"] for r in rows[:5]) + (", …" if len(rows) > 5 else "")
            raise StateError(f"deployment id prefix {prefix!r} is ambiguous: matches {shown}")
        return deployment_row(rows[0]) if rows else None

    def recent(
        self, *, environment: str | None = None, service: str | None = None, limit: int = 50
    ) -> list[DeploymentRow]:
        """Deployments, newest first, optionally for one environment and/or service."""
        query = select(deployments)
        if environment is not None:
            query = query.where(deployments.c.environment == environment)
        if service is not None:
            query = query.where(deployments.c.service == service)
        query = query.order_by(*_NEWEST_DEPLOYMENT).limit(max(0, limit))
        return [deployment_row(row) for row in self.conn.execute(query)]

    def current(self, environment: str, service: str) -> DeploymentRow | None:
        """The newest succeeded deployment: what should be serving now."""
        query = (
            select(deployments)
            .where(
                deployments.c.environment == environment,
                deployments.c.service == service,
                deployments.c.status == "succeeded",
            )
            .order_by(*_NEWEST_DEPLOYMENT)
            .limit(1)
        )
        row = self.conn.execute(query).first()
        return None if row is None else deployment_row(row)
