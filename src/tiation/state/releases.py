"""Releases (what can be brought back) and deployments (what was done, and how it ended)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from secrets import token_hex
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from tiation.errors import StateError
from tiation.redact import redact
from tiation.state.db import Database
from tiation.state.rows import (
    DeploymentRow,
    ReleaseRow,
    deployment_from,
    load_json,
    plain_json,
    redacted_json,
)
from tiation.state.schema import deployments, releases

DEPLOYMENT_KINDS = ("deploy", "rollback", "auto-rollback")
FINAL_STATUSES = ("succeeded", "failed", "rolled_back", "aborted")
ID_LEN = 12
MIN_PREFIX = 4
_HEX = re.compile(r"[0-9a-f]+")
_NEWEST_DEPLOYMENT = (deployments.c.started_at.desc(), deployments.c.seq.desc())


def _release(row: Row[Any]) -> ReleaseRow:
    m = row._mapping
    return ReleaseRow(
        environment=m["environment"],
        service=m["service"],
        version=m["version"],
        digest=m["digest"],
        spec=load_json(m["spec"]),
        created_at=m["created_at"],
        quarantined=bool(m["quarantined"]),
        quarantine_reason=m["quarantine_reason"],
    )


def _deployment(row: Row[Any]) -> DeploymentRow:
    return deployment_from(row._mapping)


def _release_key(environment: str, service: str, digest: str) -> Any:
    return (
        (releases.c.environment == environment)
        & (releases.c.service == service)
        & (releases.c.digest == digest)
    )


def save_release(
    db: Database, *, environment: str, service: str, version: str, digest: str, spec: Mapping[str, Any]
) -> None:
    """Store a release once; saving the same (environment, service, digest) again changes nothing."""
    values = {
        "environment": environment,
        "service": service,
        "version": version,
        "digest": digest,
        "spec": plain_json(spec),
        "created_at": db.clock.now(),
        "quarantined": False,
        "quarantine_reason": None,
    }
    try:
        with db.write() as conn:
            found = conn.execute(
                select(releases.c.seq).where(_release_key(environment, service, digest))
            ).first()
            if found is None:
                conn.execute(insert(releases).values(**values))
    except IntegrityError:  # saved by another process between our check and insert: same content
        pass


def get_release(
    db: Database, environment: str, service: str, *, version: str | None, digest: str | None
) -> ReleaseRow | None:
    """The release with `digest`, else the newest saved with `version` (else the newest saved at all)."""
    query = select(releases).where(releases.c.environment == environment, releases.c.service == service)
    if digest is not None:
        query = query.where(releases.c.digest == digest)
    if version is not None:
        query = query.where(releases.c.version == version)
    query = query.order_by(releases.c.created_at.desc(), releases.c.seq.desc()).limit(1)
    with db.read() as conn:
        row = conn.execute(query).first()
    return None if row is None else _release(row)


def list_releases(db: Database, environment: str, service: str) -> list[ReleaseRow]:
    """Every saved release of one service in one environment, newest first."""
    query = (
        select(releases)
        .where(releases.c.environment == environment, releases.c.service == service)
        .order_by(releases.c.created_at.desc(), releases.c.seq.desc())
    )
    with db.read() as conn:
        return [_release(row) for row in conn.execute(query)]


def set_quarantine(
    db: Database, environment: str, service: str, digest: str, *, quarantined: bool, reason: str | None
) -> None:
    """Mark a saved release as quarantined (or clear the mark); StateError if no such release was saved."""
    with db.write() as conn:
        result = conn.execute(
            update(releases)
            .where(_release_key(environment, service, digest))
            .values(
                quarantined=quarantined, quarantine_reason=redact(reason) if quarantined and reason else None
            )
        )
        if result.rowcount == 0:
            raise StateError(f"no saved release {digest} for {environment}/{service}")


def create_deployment(
    db: Database,
    *,
    environment: str,
    service: str,
    version: str,
    digest: str,
    actor: str,
    kind: str,
    parent_id: str | None,
) -> str:
    """Record a deployment that starts now (status `running`); returns its new 12-hex-character id."""
    if kind not in DEPLOYMENT_KINDS:
        raise StateError(f"unknown deployment kind {kind!r} (one of: {', '.join(DEPLOYMENT_KINDS)})")
    if parent_id is not None:
        with db.read() as conn:
            if conn.execute(select(deployments.c.seq).where(deployments.c.id == parent_id)).first() is None:
                raise StateError(f"parent deployment {parent_id} not found")
    for _ in range(8):
        new_id = token_hex(ID_LEN // 2)
        try:
            with db.write() as conn:
                conn.execute(
                    insert(deployments).values(
                        id=new_id,
                        environment=environment,
                        service=service,
                        version=version,
                        digest=digest,
                        kind=kind,
                        status="running",
                        verdict=None,
                        evidence="{}",
                        actor=actor,
                        parent_id=parent_id,
                        started_at=db.clock.now(),
                        finished_at=None,
                    )
                )
        except IntegrityError:  # the id is taken (1 in 2**48): draw again
            continue
        return new_id
    raise StateError("cannot allocate a unique deployment id")  # pragma: no cover


def finish_deployment(
    db: Database, deployment_id: str, *, status: str, verdict: str, evidence: Mapping[str, Any]
) -> None:
    """Record how a deployment ended; `verdict` and `evidence` are redacted before they are stored."""
    if status not in FINAL_STATUSES:
        raise StateError(f"unknown final deployment status {status!r} (one of: {', '.join(FINAL_STATUSES)})")
    with db.write() as conn:
        result = conn.execute(
            update(deployments)
            .where(deployments.c.id == deployment_id)
            .values(
                status=status,
                verdict=redact(verdict),
                evidence=redacted_json(evidence),
                finished_at=db.clock.now(),
            )
        )
        if result.rowcount == 0:
            raise StateError(f"deployment {deployment_id} not found")


def get_deployment(db: Database, deployment_id: str) -> DeploymentRow | None:
    """The deployment with this id, or with this unique id prefix (at least 4 characters)."""
    prefix = deployment_id.strip().lower()
    with db.read() as conn:
        row = conn.execute(select(deployments).where(deployments.c.id == prefix)).first()
        if row is not None:
            return _deployment(row)
        if not (MIN_PREFIX <= len(prefix) < ID_LEN) or not _HEX.fullmatch(prefix):
            return None
        rows = conn.execute(
            select(deployments)
            .where(deployments.c.id.like(prefix + "%"))
            .order_by(*_NEWEST_DEPLOYMENT)
            .limit(6)
        ).all()
    if len(rows) > 1:
        shown = ", ".join(r._mapping["id"] for r in rows[:5]) + (", …" if len(rows) > 5 else "")
        raise StateError(f"deployment id prefix {prefix!r} is ambiguous: matches {shown}")
    return _deployment(rows[0]) if rows else None


def list_deployments(
    db: Database, *, environment: str | None, service: str | None, limit: int
) -> list[DeploymentRow]:
    """Deployments, newest first, optionally for one environment and/or service."""
    query = select(deployments)
    if environment is not None:
        query = query.where(deployments.c.environment == environment)
    if service is not None:
        query = query.where(deployments.c.service == service)
    query = query.order_by(*_NEWEST_DEPLOYMENT).limit(max(0, limit))
    with db.read() as conn:
        return [_deployment(row) for row in conn.execute(query)]


def last_known_good(
    db: Database, environment: str, service: str, *, exclude_digests: Collection[str]
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
    with db.read() as conn:
        row = conn.execute(query).first()
    return None if row is None else _release(row)


def current_deployment(db: Database, environment: str, service: str) -> DeploymentRow | None:
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
    with db.read() as conn:
        row = conn.execute(query).first()
    return None if row is None else _deployment(row)
