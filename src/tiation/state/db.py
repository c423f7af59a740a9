"""Connecting to the state database (SQLite or PostgreSQL), transactions, and turning driver errors into
one-line `StateError`s that never show a password.

SQLite connections run in WAL mode with a 30 s busy timeout and foreign keys on. The sqlite3 module's own
transaction handling is switched off so that every transaction starts with an explicit `BEGIN`: writes use
`BEGIN IMMEDIATE`, which takes the write lock up front, so a read-then-write (a lease takeover) is atomic
across processes.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from tiation.clock import Clock
from tiation.errors import StateError
from tiation.private import private_dir, private_file
from tiation.redact import redact

_WRITE = "tiation_write"
_MAX_REASON = 300
BUSY_TIMEOUT_MS = 30000
PG_CONNECT_TIMEOUT_S = 10


def describe_error(exc: BaseException) -> str:
    """The driver's own words for `exc`, on one line, redacted and kept short."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    words = " ".join(str(orig).split()) or type(orig).__name__
    words = redact(words)
    return words if len(words) <= _MAX_REASON else words[: _MAX_REASON - 1] + "…"


@dataclass
class Database:
    """An engine plus what every query needs: the clock, the backend name, and a printable URL."""

    engine: Engine
    clock: Clock
    backend: str
    url_display: str
    _write_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection inside a (deferred) transaction, committed on success."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection inside a write transaction (SQLite: `BEGIN IMMEDIATE`), committed on success.

        On SQLite, writers of this process queue on a lock first: SQLite's own busy handler makes a waiting
        writer sleep and retry (up to 100 ms a try), which starves it behind a busy one (the server's intake
        writer, escalation timers and outbox share one store). Other processes still meet the busy timeout.
        """
        if getattr(self._local, "writing", False):
            # on SQLite the inner BEGIN IMMEDIATE would wait for the outer one: use the outer unit of work
            raise StateError("a state write transaction is already open in this thread")
        lock = self._write_lock if self.backend == "sqlite" else contextlib.nullcontext()
        with lock, self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            self._local.writing = True
            try:
                with conn.begin():
                    yield conn
            finally:
                self._local.writing = False

    @contextmanager
    def guard(self, action: str) -> Iterator[None]:
        """Turn any database error inside into a one-line `StateError` naming `action`."""
        try:
            yield
        except (SQLAlchemyError, sqlite3.Error) as exc:
            reason = describe_error(exc)
            raise StateError(f"state store {self.url_display}: cannot {action}: {reason}") from None

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _sqlite_on_begin)
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        mode = cur.execute("PRAGMA journal_mode").fetchone()
        if not mode or str(mode[0]).lower() != "wal":
            cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
    finally:
        cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = "IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


def _normalize_url(url: str, display: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StateError(f"not a valid state store URL: {display}") from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        parsed = parsed.set(drivername="postgresql")
        backend = "postgresql"
    if backend == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend not in ("sqlite", "postgresql"):
        raise StateError(f"unsupported state store URL (use sqlite:/// or postgresql://): {display}")
    return parsed


def _private_sqlite(database: Path) -> None:
    """The database file 0600 (SQLite gives its WAL/SHM files the same mode); its directory 0700 when tiation
    owns it (`.tiation`, or created here), never a directory the user named that already exists."""
    parent = database.parent
    if parent.name == ".tiation" or not parent.exists():
        private_dir(parent)
    private_file(database)


def _create_engine(parsed: URL) -> Engine:
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            _private_sqlite(Path(database))
        engine = create_engine(parsed)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    if "application_name" not in parsed.query:
        connect_args["application_name"] = "tiation"
    return create_engine(parsed, connect_args=connect_args)


def current_revision(conn: Connection) -> str | None:
    """The revision recorded in `alembic_version`, or None for a database alembic never touched."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if value is None else str(value)


def connect(url: str, *, clock: Clock) -> Database:
    """A `Database` for `url` (creating a SQLite file's directory); nothing is read or migrated yet."""
    display = redact(url)
    parsed = _normalize_url(url, display)
    try:
        engine = _create_engine(parsed)
    except (OSError, SQLAlchemyError, ImportError) as exc:
        raise StateError(f"cannot open state store {display}: {describe_error(exc)}") from None
    return Database(engine=engine, clock=clock, backend=parsed.get_backend_name(), url_display=display)
