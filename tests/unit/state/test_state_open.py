"""Opening a SQLite store: directories, connection settings, and one-line errors for what cannot be opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from fixtures.common import free_port
from tiation.clock import FakeClock
from tiation.errors import StateError
from tiation.state import StateStore, default_state_url


def test_default_state_url(tmp_path: Path) -> None:
    assert default_state_url(tmp_path) == f"sqlite:///{tmp_path}/.tiation/state.db"
    assert not (tmp_path / ".tiation").exists()  # created on open, not here


def test_open_creates_the_directory_and_closes(tmp_path: Path, fake_clock: FakeClock) -> None:
    url = default_state_url(tmp_path / "platform")
    with StateStore.open(url, clock=fake_clock) as store:
        assert store.url_display == url
        assert store.backend == "sqlite"
        with store.read() as uow:
            assert uow.leases.all() == []
    assert (tmp_path / "platform" / ".tiation" / "state.db").is_file()


def test_sqlite_connection_settings(tmp_path: Path, fake_clock: FakeClock) -> None:
    with StateStore.open(default_state_url(tmp_path), clock=fake_clock) as store:
        engine = store._db.engine
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    raw = sqlite3.connect(tmp_path / ".tiation" / "state.db")
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # persistent in the file
    finally:
        raw.close()


def test_a_file_that_is_not_a_database(tmp_path: Path, fake_clock: FakeClock) -> None:
    bogus = tmp_path / "state.db"
    bogus.write_bytes(b"this is not a database, just some text " * 200)
    with pytest.raises(StateError) as err:
        StateStore.open(f"sqlite:///{bogus}", clock=fake_clock)
    message = str(err.value)
    assert message.startswith(f"cannot open state store sqlite:///{bogus}: ")
    assert "not a database" in message
    assert "\n" not in message


def test_a_directory_where_the_file_should_be(tmp_path: Path, fake_clock: FakeClock) -> None:
    (tmp_path / "state.db").mkdir()
    with pytest.raises(StateError, match="cannot open state store") as err:
        StateStore.open(f"sqlite:///{tmp_path / 'state.db'}", clock=fake_clock)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "not a valid state store URL: not a url"),
        ("mysql://root:pw1234@db/x", r"unsupported state store URL .*: mysql://root:<secret>@db/x"),
    ],
)
def test_bad_urls(url: str, expected: str, fake_clock: FakeClock) -> None:
    with pytest.raises(StateError, match=expected) as err:
        StateStore.open(url, clock=fake_clock)
    assert "pw1234" not in str(err.value)


def test_postgres_on_a_closed_port_is_one_line_without_the_password(fake_clock: FakeClock) -> None:
    url = f"postgresql+psycopg://tiation:topsecret-pw@127.0.0.1:{free_port()}/state"
    with pytest.raises(StateError) as err:
        StateStore.open(url, clock=fake_clock)
    message = str(err.value)
    assert message.startswith("cannot open state store postgresql+psycopg://tiation:<secret>@127.0.0.1:")
    assert "topsecret-pw" not in message
    assert "\n" not in message
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_plain_postgresql_scheme_uses_psycopg(fake_clock: FakeClock) -> None:
    url = f"postgresql://u:pw-9876@127.0.0.1:{free_port()}/state"  # no psycopg2 installed: must not need it
    expected = r"cannot open state store postgresql://u:<secret>@127\.0\.0\.1"
    with pytest.raises(StateError, match=expected) as err:
        StateStore.open(url, clock=fake_clock)
    assert "psycopg2" not in str(err.value)
