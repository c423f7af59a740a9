"""PostgresSource against the real PostgreSQL test server: dumps restore, failures are one redacted line."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from fixtures.common import free_port
from fixtures.postgres import PostgresServer
from tiation.backup.sources.postgres import PostgresSource, parse_dsn
from tiation.errors import BackupError
from tiation.secrets import SecretRef

pytestmark = pytest.mark.integration

PLANTED = "Pl4nted-S3cret-zq7"
ROWS = {"customers": 3, "orders": 40, "notes": 5}


def _bin(name: str) -> str:
    versioned = Path(f"/usr/lib/postgresql/15/bin/{name}")
    return str(versioned) if versioned.is_file() else name


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(_libpq(url)) as conn:
        return {
            t: int(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0])  # type: ignore[index]
            for t in ROWS
        }


def _read_all(reader: object, chunk: int = 8192) -> bytes:
    parts = []
    while data := reader.read(chunk):  # type: ignore[attr-defined]
        parts.append(data)
    return b"".join(parts)


@pytest.fixture
def filled_url(postgres_url: str) -> str:
    """A database with three tables, rows and non-ASCII text."""
    with psycopg.connect(_libpq(postgres_url), autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute(
            "CREATE TABLE orders (id serial PRIMARY KEY, customer int REFERENCES customers, total numeric)"
        )
        conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text)")
        conn.execute(
            "INSERT INTO customers VALUES (1, 'Zoë Ångström'), (2, 'Łukasz Żółć'), (3, '日本語テキスト')"
        )
        conn.execute(
            "INSERT INTO orders (customer, total) SELECT 1 + g % 3, g * 1.5 FROM generate_series(1, 40) g"
        )
        conn.execute("INSERT INTO notes (body) SELECT 'naïve café ☕ ' || g FROM generate_series(1, 5) g")
    return postgres_url


@pytest.fixture
def fresh_db(postgres_server: PostgresServer) -> Iterator[str]:
    """An empty database to restore into (libpq URL); dropped afterwards."""
    name = f"r_{uuid.uuid4().hex[:16]}"
    with postgres_server.connect_admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield _libpq(postgres_server.dsn(name))
    with postgres_server.connect_admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_custom_dump_lists_and_restores(filled_url: str, fresh_db: str, tmp_path: Path) -> None:
    reader = PostgresSource(filled_url).open()
    data = _read_all(reader)
    info = reader.close()
    assert data.startswith(b"PGDMP")
    assert info.kind == "postgres" and info.format == "pg_dump-custom"
    assert info.details["database"] == _dbname(filled_url)
    assert info.details["host"] == "127.0.0.1"
    assert info.details["server_version"].startswith("15")
    assert "(PostgreSQL) 15" in info.details["pg_dump_version"]
    assert "user" not in info.details and "password" not in info.details
    dump = tmp_path / "db.dump"
    dump.write_bytes(data)
    listing = subprocess.run([_bin("pg_restore"), "--list", str(dump)], capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    assert "TABLE public customers" in listing.stdout
    restore = subprocess.run(
        [_bin("pg_restore"), "--no-owner", "--exit-on-error", "-d", fresh_db, str(dump)],
        capture_output=True,
        text=True,
    )
    assert restore.returncode == 0, restore.stderr
    assert _counts(fresh_db) == ROWS == _counts(filled_url)
    with psycopg.connect(fresh_db) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM customers").fetchall()}
    assert names == {"Zoë Ångström", "Łukasz Żółć", "日本語テキスト"}


def test_plain_dump_loads_with_psql(filled_url: str, fresh_db: str, tmp_path: Path) -> None:
    reader = PostgresSource(filled_url, format="plain").open()
    data = reader.read()
    info = reader.close()
    assert info.format == "pg_dump-plain"
    assert "Zoë Ångström".encode() in data
    script = tmp_path / "db.sql"
    script.write_bytes(data)
    load = subprocess.run(
        [_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", fresh_db, "-f", str(script)],
        capture_output=True,
        text=True,
    )
    assert load.returncode == 0, load.stderr
    assert _counts(fresh_db) == ROWS


def test_key_value_dsn_and_secret_ref(
    filled_url: str, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = postgres_server
    kv = f"host={server.host} port={server.port} user={server.user} dbname={_dbname(filled_url)}"
    monkeypatch.setenv("TIATION_TEST_PG_DSN", kv)
    reader = PostgresSource(SecretRef("env:TIATION_TEST_PG_DSN"), format="plain").open()
    assert b"CREATE TABLE public.orders" in reader.read()
    assert reader.close().details["database"] == _dbname(filled_url)


def test_parse_dsn_forms() -> None:
    want = {"host": "db.example", "port": "6543", "user": "app", "password": "pw%x", "dbname": "prod"}
    assert parse_dsn("postgresql+psycopg://app:pw%25x@db.example:6543/prod") == want
    assert parse_dsn("postgres://app:pw%25x@db.example:6543/prod") == want
    assert parse_dsn("host=db.example port=6543 user=app password='pw%x' dbname=prod") == want
    with pytest.raises(BackupError, match="not a PostgreSQL DSN"):
        parse_dsn("mysql://app@db/prod")


def test_pg_dump_failure_is_raised_at_close(filled_url: str) -> None:
    reader = PostgresSource(filled_url, extra_args=["--table=no_such_table", "--strict-names"]).open()
    _read_all(reader)
    with pytest.raises(BackupError) as err:
        reader.close()
    msg = str(err.value)
    assert msg.startswith("pg_dump exited 1: ")
    assert msg == 'pg_dump exited 1: no matching tables were found for pattern "no_such_table"'


def _assert_one_line_no_secret(err: BackupError) -> str:
    msg = str(err)
    assert "\n" not in msg
    assert PLANTED not in msg
    return msg


def test_unreachable_server(postgres_server: PostgresServer) -> None:
    port = free_port()
    with pytest.raises(BackupError) as err:
        PostgresSource(f"postgresql://postgres:{PLANTED}@127.0.0.1:{port}/app").open()
    msg = _assert_one_line_no_secret(err.value)
    assert msg == f"cannot connect to PostgreSQL at 127.0.0.1:{port}: connection refused"


def test_missing_database(postgres_server: PostgresServer) -> None:
    url = f"postgresql://postgres:{PLANTED}@127.0.0.1:{postgres_server.port}/no_such_db_x"
    with pytest.raises(BackupError) as err:
        PostgresSource(url).open()
    msg = _assert_one_line_no_secret(err.value)
    assert msg == f"database 'no_such_db_x' does not exist on PostgreSQL at 127.0.0.1:{postgres_server.port}"


def test_unknown_role(postgres_server: PostgresServer) -> None:
    url = f"postgresql://ghost_role:{PLANTED}@127.0.0.1:{postgres_server.port}/postgres"
    with pytest.raises(BackupError) as err:
        PostgresSource(url).open()
    assert "authentication failed for user 'ghost_role'" in _assert_one_line_no_secret(err.value)


@pytest.fixture
def password_role(postgres_server: PostgresServer, filled_url: str) -> Iterator[tuple[str, str]]:
    """A role that must log in with a password over TCP (scram via a pg_hba line for it alone): (role, password)."""
    role, password = f"pw_{uuid.uuid4().hex[:10]}", f"right-{PLANTED}"
    hba = postgres_server.data_dir / "pg_hba.conf"
    original = hba.read_text()
    with postgres_server.connect_admin() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
        )
        conn.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(role)))
        # the file belongs to the server user: rewrite it in place so ownership is kept
        with hba.open("r+") as fh:
            fh.seek(0)
            fh.write(f"host all {role} 127.0.0.1/32 scram-sha-256\n{original}")
            fh.truncate()
        conn.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 10
    while True:  # the reload is asynchronous: wait until a password-less login is refused
        try:
            psycopg.connect(host="127.0.0.1", port=postgres_server.port, user=role, dbname="postgres").close()
        except psycopg.OperationalError:
            break
        assert time.monotonic() < deadline, "pg_hba.conf reload did not take effect"
        time.sleep(0.05)
    try:
        yield role, password
    finally:
        with hba.open("r+") as fh:
            fh.write(original)
            fh.truncate()
        with postgres_server.connect_admin() as conn:
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_wrong_password(
    postgres_server: PostgresServer, filled_url: str, password_role: tuple[str, str]
) -> None:
    role, _ = password_role
    url = f"postgresql://{role}:{PLANTED}@127.0.0.1:{postgres_server.port}/{_dbname(filled_url)}"
    with pytest.raises(BackupError) as err:
        PostgresSource(url).open()
    msg = _assert_one_line_no_secret(err.value)
    assert msg == f"authentication failed for user '{role}' at PostgreSQL 127.0.0.1:{postgres_server.port}"


def test_right_password_goes_by_environment(
    postgres_server: PostgresServer, filled_url: str, password_role: tuple[str, str]
) -> None:
    role, password = password_role
    url = f"postgresql+psycopg://{role}:{password}@127.0.0.1:{postgres_server.port}/{_dbname(filled_url)}"
    reader = PostgresSource(url, format="plain").open()
    assert all(password not in arg for arg in reader.argv)
    assert any(arg.startswith("--dbname=") and f"user={role}" in arg for arg in reader.argv)
    data = reader.read()
    reader.close()
    assert b"COPY public.customers" in data


def test_pg_dump_older_than_server_is_refused(filled_url: str, tmp_path: Path) -> None:
    old = tmp_path / "pg_dump"
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    old.chmod(0o755)
    with pytest.raises(BackupError) as err:
        PostgresSource(filled_url, pg_dump=str(old)).open()
    assert "is version 9, older than the PostgreSQL 15 server" in str(err.value)


def test_abort_kills_and_reaps_pg_dump(filled_url: str) -> None:
    with psycopg.connect(_libpq(filled_url), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 8) AS pad FROM generate_series(1, 60000) g"
        )
    reader = PostgresSource(filled_url, format="plain").open()
    assert reader.read(1024)  # pg_dump is running and blocked on the full pipe
    pid = reader.pid
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    assert state != "Z"
    reader.abort()
    assert not Path(f"/proc/{pid}").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    reader.abort()  # idempotent
    with pytest.raises(BackupError, match="aborted"):
        reader.close()


def test_close_before_end_of_stream_fails(filled_url: str) -> None:
    reader = PostgresSource(filled_url, format="plain").open()
    assert reader.read(10)
    pid = reader.pid
    with pytest.raises(BackupError, match="before it was read to the end"):
        reader.close()
    assert not Path(f"/proc/{pid}").exists()


_KILLED_RESTORE = """
import sys, time
from tiation.backup.sources.postgres import PostgresSource
data = open(sys.argv[2], "rb").read()
def stream():
    yield data[: len(data) // 2]
    print("fed", flush=True)
    time.sleep(600)
PostgresSource(sys.argv[1]).restore(stream(), sys.argv[3], {"format": "pg_dump-custom"})
"""


def test_discard_drops_only_what_a_killed_restore_left(filled_url: str, tmp_path: Path) -> None:
    import signal
    import sys

    reader = PostgresSource(filled_url).open()
    dump = tmp_path / "db.dump"
    dump.write_bytes(_read_all(reader))
    reader.close()
    source = PostgresSource(filled_url)
    target = f"killed_{uuid.uuid4().hex[:12]}"
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RESTORE, filled_url, str(dump), target], stdout=subprocess.PIPE
    )
    assert child.stdout is not None and child.stdout.readline() == b"fed\n"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    time.sleep(0.5)  # pg_restore sees the end of its input and exits
    assert source.discard(target) == [f"database {target}"]
    assert source.discard(target) == []
    whole = f"whole_{uuid.uuid4().hex[:12]}"
    source.restore(iter([dump.read_bytes()]), whole, {"format": "pg_dump-custom"})
    try:
        assert source.discard(whole) == []  # a complete restore is never discarded
        assert _counts(filled_url.rsplit("/", 1)[0] + "/" + whole) == ROWS
    finally:
        subprocess.run(
            [_bin("dropdb"), "--if-exists", "-d", filled_url, whole], check=False, capture_output=True
        )
