"""Opening stores for real: PostgreSQL migrations, concurrent first opens, and unreachable databases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from fixtures.postgres import PostgresServer
from tiation.clock import FakeClock
from tiation.errors import StateError
from tiation.state import HEAD_REVISION, StateStore
from tiation.state.schema import TABLE_NAMES, metadata

pytestmark = pytest.mark.integration

WORKER = Path(__file__).with_name("lease_worker.py")
PROBE = """
import json, sys
from tiation.clock import SystemClock
from tiation.state import StateStore
with StateStore.open(sys.argv[1], clock=SystemClock()) as store, store.read() as uow:
    uow.deployments.recent()
print(json.dumps("alembic" in sys.modules))
"""


def _imports_alembic(url: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, url], capture_output=True, text=True, check=True, timeout=60
    )
    return bool(json.loads(out.stdout))


def test_postgres_migrates_from_empty(postgres_url: str, fake_clock: FakeClock) -> None:
    StateStore.open(postgres_url, clock=fake_clock).close()
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert set(TABLE_NAMES) <= set(inspect(conn).get_table_names())
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD_REVISION
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


def test_reopening_a_current_store_does_not_import_alembic(state_url: str) -> None:
    assert _imports_alembic(state_url) is True
    assert _imports_alembic(state_url) is False


def test_concurrent_first_opens_migrate_once(state_url: str, fake_clock: FakeClock) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "open", state_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outcomes = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [code for code, _, _ in outcomes] == [0] * 3, outcomes
    with StateStore.open(state_url, clock=fake_clock) as store, store.read() as uow:
        assert uow.releases.of_service("production", "cms") == []
    engine = create_engine(state_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
                HEAD_REVISION
            ]
    finally:
        engine.dispose()


def test_postgres_database_that_does_not_exist(
    postgres_server: PostgresServer, fake_clock: FakeClock
) -> None:
    dsn = postgres_server.dsn("no_such_db")
    with pytest.raises(
        StateError, match=r'cannot open state store .*database "no_such_db" does not exist'
    ) as e:
        StateStore.open(dsn, clock=fake_clock)
    assert "\n" not in str(e.value)


def test_postgres_password_never_shown(postgres_url: str, fake_clock: FakeClock) -> None:
    with_password = postgres_url.replace("postgres@", "postgres:pa55-w0rd-x@")
    with StateStore.open(with_password, clock=fake_clock) as store:  # trust auth: the password is unused
        assert "pa55-w0rd-x" not in store.url_display
        assert store.url_display.startswith("postgresql+psycopg://postgres:<secret>@127.0.0.1:")
    broken = with_password.rsplit("/", 1)[0] + "/missing_db"
    with pytest.raises(StateError) as err:
        StateStore.open(broken, clock=fake_clock)
    assert "pa55-w0rd-x" not in str(err.value)
