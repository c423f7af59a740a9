"""The stdlib-sqlite3 fast path answers exactly what the store answers, or declines (None)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tiation.clock import FakeClock
from tiation.state import StateStore, default_state_url
from tiation.state.quick import latest_deployments


def _populate(store: StateStore, clock: FakeClock) -> None:
    for i, (env, svc, status) in enumerate(
        [
            ("dev", "api", "succeeded"),
            ("dev", "api", "failed"),
            ("dev", "db", "succeeded"),
            ("prod", "api", "running"),
        ]
    ):
        clock.advance(1)
        with store.write() as uow:
            dep = uow.deployments.create(
                environment=env,
                service=svc,
                version=f"1.{i}",
                digest=f"sha256:{i:064x}",
                actor="a",
                kind="deploy",
            )
        if status != "running":
            with store.write() as uow:
                uow.deployments.finish(
                    dep, status=status, verdict=f"v{i}", evidence={"n": i, "nested": {"k": [i]}}
                )


def test_same_answers_as_the_store(tmp_path: Path) -> None:
    clock = FakeClock()
    url = default_state_url(tmp_path)
    pairs = [("dev", "api"), ("dev", "db"), ("prod", "api"), ("prod", "db")]
    with StateStore.open(url, clock=clock) as store:
        _populate(store, clock)
        expected = {}
        for env, svc in pairs:
            with store.read() as uow:
                found = uow.deployments.recent(environment=env, service=svc, limit=1)
            expected[(env, svc)] = found[0] if found else None
    quick = latest_deployments(url, pairs)
    assert quick == expected
    assert quick[("dev", "api")].status == "failed"  # type: ignore[union-attr]
    assert quick[("prod", "db")] is None


def test_declines_when_it_cannot_be_sure(tmp_path: Path) -> None:
    pairs = [("dev", "api")]
    assert latest_deployments("postgresql+psycopg://u@127.0.0.1:1/x", pairs) is None
    assert latest_deployments(default_state_url(tmp_path / "missing"), pairs) is None
    assert latest_deployments("sqlite:///:memory:", pairs) is None
    url = default_state_url(tmp_path)
    with StateStore.open(url, clock=FakeClock()):
        pass
    db = tmp_path / ".tiation" / "state.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0000'")
    conn.close()
    assert latest_deployments(url, pairs) is None
    garbage = tmp_path / "garbage.db"
    garbage.write_text("not a database")
    assert latest_deployments(f"sqlite:///{garbage}", pairs) is None


def test_fast_path_does_not_import_sqlalchemy(tmp_path: Path) -> None:
    url = default_state_url(tmp_path)
    with StateStore.open(url, clock=FakeClock()):
        pass
    code = (
        "import sys; from tiation.state.quick import latest_deployments; "
        f"r = latest_deployments({url!r}, [('dev', 'api')]); "
        "assert r == {('dev', 'api'): None}, r; print('sqlalchemy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
