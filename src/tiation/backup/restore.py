"""Restore a backup into a *new* database (never over the live one), check it, and optionally swap it in.

The seed's `rollback-database.sh` scaled the whole fleet to zero and piped a dump over the live database.
Here a restore always lands in a new SQLite file or a new PostgreSQL database; `--replace` renames the live one
aside and the restored one into place only after the configured checks pass, and keeps the old one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

from tiation.config.backups import VerifyChecks
from tiation.errors import BackupError
from tiation.redact import redact

_TAIL = 4096


def _pg_tool(name: str) -> str:
    """The newest installed PostgreSQL client tool `name` (Debian keeps one per major version)."""
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if versions:
        return str(versions[-1])
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian package postgresql-client)")
    return found


def _feed(argv: list[str], stream: Iterator[bytes], env: Mapping[str, str], what: str) -> int:
    """Stream `stream` into the stdin of `argv`; raise BackupError with its stderr if it fails."""
    written = 0
    with subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(env)
    ) as proc:
        assert proc.stdin is not None and proc.stderr is not None
        try:
            for chunk in stream:
                proc.stdin.write(chunk)
                written += len(chunk)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        except BaseException:
            proc.kill()
            raise
        err = proc.stderr.read()[-_TAIL:].decode(errors="replace")
        code = proc.wait()
    if code != 0:
        last = [line for line in err.strip().splitlines() if line.strip()]
        raise BackupError(redact(f"{what} exited {code}: {last[-1] if last else 'no output'}"))
    return written


# -- SQLite -------------------------------------------------------------------------------------------------
def restore_sqlite(stream: Iterator[bytes], dest: Path) -> int:
    """Write the restored database to `dest` (which must not exist) via a temp file; returns bytes written."""
    if dest.exists():
        raise BackupError(f"{dest} already exists: restore into a new file (or use --replace)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.restoring")
    written = 0
    try:
        with tmp.open("wb") as fh:
            for chunk in stream:
                fh.write(chunk)
                written += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return written


def check_sqlite(path: Path, checks: VerifyChecks) -> list[str]:
    """Run integrity_check and the configured checks on a restored SQLite file; BackupError on a failure."""
    passed: list[str] = []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()
        if not result or result[0] != "ok":
            raise BackupError(f"restored database {path.name} fails integrity_check: {result}")
        passed.append("integrity_check ok")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        passed.extend(_check_tables(tables, checks))
        for query in checks.queries:
            try:
                row = conn.execute(query.sql).fetchone()
            except sqlite3.Error as exc:
                raise BackupError(f"check query failed: {query.sql!r}: {exc}") from None
            passed.append(_check_query(query.sql, row, query.min_rows))
    finally:
        conn.close()
    return passed


def replace_sqlite(live: Path, restored: Path, suffix: str) -> Path:
    """Move `live` aside (kept, renamed with `suffix`) and `restored` into its place; returns the old path."""
    aside = live.with_name(f"{live.name}.replaced-{suffix}")
    if live.exists():
        live.replace(aside)
    restored.replace(live)
    return aside


# -- PostgreSQL ---------------------------------------------------------------------------------------------
def _pg_env(params: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    if "password" in params:
        env["PGPASSWORD"] = params["password"]
    return env


def _conninfo(params: Mapping[str, str], dbname: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(
        **{k: v for k, v in params.items() if k not in ("password", "dbname")}, dbname=dbname
    )


def _admin(params: Mapping[str, str], sql: str) -> None:
    import psycopg

    try:
        with psycopg.connect(
            _conninfo(params, "postgres"), password=params.get("password"), autocommit=True
        ) as c:
            c.execute(sql.encode())  # identifiers are validated by `_ident`
    except psycopg.Error as exc:
        raise BackupError(redact(f"PostgreSQL refused: {str(exc).strip().splitlines()[0]}")) from None


def _ident(name: str) -> str:
    if not name.replace("_", "").replace("-", "").isalnum():
        raise BackupError(f"database name {name!r}: use letters, digits, '_' and '-'")
    return '"' + name + '"'


def restore_postgres(stream: Iterator[bytes], params: Mapping[str, str], new_db: str, fmt: str) -> int:
    """Create database `new_db` and load the dump into it (pg_restore for custom format, psql for plain)."""
    _admin(params, f"CREATE DATABASE {_ident(new_db)}")
    target = _conninfo(params, new_db)
    if fmt == "pg_dump-plain":
        argv = [_pg_tool("psql"), "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "--dbname", target]
        what = "psql"
    else:
        argv = [_pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--dbname", target]
        what = "pg_restore"
    try:
        return _feed([*argv, "--no-password"], stream, _pg_env(params), what)
    except BaseException:
        with contextlib.suppress(BackupError):
            _admin(params, f"DROP DATABASE IF EXISTS {_ident(new_db)}")
        raise


def check_postgres(params: Mapping[str, str], db: str, checks: VerifyChecks) -> list[str]:
    """Run the configured checks against restored database `db`; BackupError on a failure."""
    import psycopg

    passed: list[str] = []
    try:
        with psycopg.connect(_conninfo(params, db), password=params.get("password")) as conn:
            rows = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema NOT IN "
                "('pg_catalog', 'information_schema')"
            ).fetchall()
            passed.extend(_check_tables({r[0] for r in rows}, checks))
            for query in checks.queries:
                try:
                    row = conn.execute(query.sql.encode()).fetchone()  # the operator's own check SQL
                except psycopg.Error as exc:
                    raise BackupError(f"check query failed: {query.sql!r}: {str(exc).strip()}") from None
                passed.append(_check_query(query.sql, row, query.min_rows))
    except psycopg.OperationalError as exc:
        raise BackupError(redact(f"cannot check restored database {db}: {exc}")) from None
    return passed


def replace_postgres(params: Mapping[str, str], live: str, restored: str, suffix: str) -> str:
    """Rename `live` aside (kept) and `restored` to `live`; returns the old database's new name."""
    aside = f"{live}_replaced_{suffix}"
    _admin(params, f"ALTER DATABASE {_ident(live)} RENAME TO {_ident(aside)}")
    _admin(params, f"ALTER DATABASE {_ident(restored)} RENAME TO {_ident(live)}")
    return aside


def drop_postgres(params: Mapping[str, str], db: str) -> None:
    """Drop a scratch database."""
    _admin(params, f"DROP DATABASE IF EXISTS {_ident(db)}")


# -- shared -------------------------------------------------------------------------------------------------
def _check_tables(present: set[str], checks: VerifyChecks) -> list[str]:
    missing = [t for t in checks.tables if t not in present]
    if missing:
        raise BackupError(f"restored database lacks table(s): {', '.join(missing)}")
    return [f"table {t} present" for t in checks.tables]


def _check_query(sql: str, row: object, min_rows: int) -> str:
    value = row[0] if isinstance(row, tuple | list | sqlite3.Row) and len(row) else None
    if row is None or (isinstance(value, int) and value < min_rows):
        raise BackupError(
            f"check {sql!r} returned {value if row is not None else 'no rows'}, expected >= {min_rows}"
        )
    return f"{sql!r} -> {value}"
