"""Secrets in audit details and deployment evidence never reach the database, on either backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tiation.redact import MASK, register_secret
from tiation.state import StateStore

pytestmark = pytest.mark.integration

SECRET = "hunter2-very-secret"
DSN_PASSWORD = "s3cr3t-dsn-pw"
DSN = f"postgresql://app:{DSN_PASSWORD}@db.internal:5432/app"


def _raw_dump(url: str) -> str:
    """Every row of every table, read with plain SQL (no store code), as one string."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            parts: list[str] = []
            for table in ("deployments", "audit_events", "releases", "leases", "approvals"):
                parts.extend(repr(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {table}")))
            return "\n".join(parts)
    finally:
        engine.dispose()


def test_planted_secrets_never_reach_the_database(store: StateStore, state_url: str, tmp_path: Path) -> None:
    register_secret(SECRET)
    evidence = {
        "probe": {"url": DSN, "body": f"error: password {SECRET} rejected"},
        SECRET: [f"x{SECRET}x", {"nested": DSN}],
        "quoted": f'he said "{SECRET}"',
        "unicode": f"ünï {SECRET} ✓",
    }
    with store.write() as uow:
        dep = uow.deployments.create(
            environment="production",
            service="cms",
            version="1",
            digest="sha256:a",
            actor="alice",
            kind="deploy",
        )
        uow.deployments.finish(dep, status="failed", verdict=f"connect {DSN} failed", evidence=evidence)
        uow.audit.record(
            actor="alice",
            action="deploy.fail",
            deployment_id=dep,
            details={
                "error": f"auth failed for {SECRET}",
                "dsn": DSN,
                "env": {"PASSWORD": "password=abc123xyz"},
            },
        )

    raw = _raw_dump(state_url)
    assert dep in raw and "deploy.fail" in raw  # we did read the rows
    assert SECRET not in raw
    assert DSN_PASSWORD not in raw
    assert "abc123xyz" not in raw
    assert MASK in raw

    with store.read() as uow:
        row = uow.deployments.get(dep)
    assert row is not None
    assert row.evidence["probe"]["url"] == f"postgresql://app:{MASK}@db.internal:5432/app"
    assert row.evidence[MASK] == [f"x{MASK}x", {"nested": f"postgresql://app:{MASK}@db.internal:5432/app"}]
    assert row.evidence["unicode"] == f"ünï {MASK} ✓"
    with store.read() as uow:
        (event,) = uow.audit.events(deployment_id=dep)
    assert event.details["error"] == f"auth failed for {MASK}"

    if store.backend == "sqlite":  # nothing in the file (or its WAL) either
        db_file = Path(state_url.removeprefix("sqlite:///"))
        blobs = b"".join(p.read_bytes() for p in db_file.parent.iterdir() if p.name.startswith(db_file.name))
        assert SECRET.encode() not in blobs and DSN_PASSWORD.encode() not in blobs
