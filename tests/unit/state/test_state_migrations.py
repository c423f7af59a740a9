"""Schema migrations on SQLite: from empty, up to date without alembic, and schema.py agreeing with them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from tiation.clock import FakeClock
from tiation.errors import StateError
from tiation.state import HEAD_REVISION, StateStore
from tiation.state.migrate import script_head
from tiation.state.schema import TABLE_NAMES, metadata

PROBE = """
import json, sys
from tiation.clock import SystemClock
from tiation.state import StateStore
with StateStore.open(sys.argv[1], clock=SystemClock()) as store, store.read() as uow:
    uow.leases.all()
print(json.dumps({"alembic": "alembic" in sys.modules, "orm": "sqlalchemy.orm" in sys.modules}))
"""


def open_in_subprocess(url: str) -> dict[str, bool]:
    """Open the store at `url` in a fresh interpreter; report which heavy modules got imported."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, url], capture_output=True, text=True, check=True, timeout=60
    )
    result: dict[str, bool] = json.loads(out.stdout)
    return result


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


def test_head_revision_is_the_scripts_head() -> None:
    assert script_head() == HEAD_REVISION


def test_migrates_an_empty_sqlite_database(tmp_path: Path, fake_clock: FakeClock) -> None:
    url = _url(tmp_path)
    StateStore.open(url, clock=fake_clock).close()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert set(TABLE_NAMES) <= set(inspect(conn).get_table_names())
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD_REVISION
    finally:
        engine.dispose()


def test_schema_module_matches_the_migrations(tmp_path: Path, fake_clock: FakeClock) -> None:
    url = _url(tmp_path)
    StateStore.open(url, clock=fake_clock).close()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


def test_only_an_out_of_date_open_imports_alembic(tmp_path: Path) -> None:
    url = _url(tmp_path)
    assert open_in_subprocess(url)["alembic"] is True  # empty: migrated with alembic
    assert open_in_subprocess(url) == {"alembic": False, "orm": False}  # current: plain query only


def test_a_newer_unknown_revision_is_refused(tmp_path: Path, fake_clock: FakeClock) -> None:
    url = _url(tmp_path)
    StateStore.open(url, clock=fake_clock).close()
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(StateError, match="schema revision 9999, which this tiation does not know"):
        StateStore.open(url, clock=fake_clock)
