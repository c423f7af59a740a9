"""The same CLI with its state in a real PostgreSQL 15 instead of the default SQLite file."""

from __future__ import annotations

import sqlalchemy

from fixtures.eco import Eco


def test_deploy_and_history_with_state_in_postgres(eco: Eco, postgres_url: str) -> None:
    eco.tiation("--state", postgres_url, "deploy", "local", "liberation-system")
    eco.tiation("--state", postgres_url, "deploy", "local", "liberation-system", "2.0.0", expect=1)
    history = eco.tiation("--state", postgres_url, "history", "local", "--json").json()["deployments"]
    assert [(d["kind"], d["version"], d["status"]) for d in history] == [
        ("auto-rollback", "1.0.0", "succeeded"),
        ("deploy", "2.0.0", "failed"),
        ("deploy", "1.0.0", "succeeded"),
    ]
    status = eco.tiation("--state", postgres_url, "status", "local", "--json").json()["services"]
    row = next(r for r in status if r["service"] == "liberation-system")
    assert row["version"] == "1.0.0" and row["last_deploy"]["kind"] == "auto-rollback"
    assert not (eco.root / ".tiation" / "state.db").exists()
    engine = sqlalchemy.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            count = conn.execute(sqlalchemy.text("SELECT count(*) FROM deployments")).scalar()
            quarantined = conn.execute(
                sqlalchemy.text("SELECT version FROM releases WHERE quarantined")
            ).all()
    finally:
        engine.dispose()
    assert count == 3
    assert [r[0] for r in quarantined] == ["2.0.0"]
