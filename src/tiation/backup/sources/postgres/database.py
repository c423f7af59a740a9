"""PostgreSQL restores: into a NEW database (created here), checked, renamed into place, or dropped.

The seed's `rollback-database.sh` scaled the whole fleet to zero and piped a dump over the live database.
Here a restore always lands in a new database; a swap renames the live one aside and the restored one into
place only after the configured checks pass, and keeps the old one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

from tiation.backup.sources.base import check_query, check_tables
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


_RESTORING = "tiation: restore in progress"  # marks a database a killed restore may leave half-loaded


def restore_database(stream: Iterator[bytes], params: Mapping[str, str], new_db: str, fmt: str) -> int:
    """Create database `new_db` and load the dump into it (pg_restore for custom format, psql for plain)."""
    _admin(params, f"CREATE DATABASE {_ident(new_db)}")
    _admin(params, f"COMMENT ON DATABASE {_ident(new_db)} IS '{_RESTORING}'")
    target = _conninfo(params, new_db)
    if fmt == "pg_dump-plain":
        argv = [_pg_tool("psql"), "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "--dbname", target]
        what = "psql"
    else:
        argv = [_pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--dbname", target]
        what = "pg_restore"
    try:
        written = _feed([*argv, "--no-password"], stream, _pg_env(params), what)
        _admin(params, f"COMMENT ON DATABASE {_ident(new_db)} IS NULL")
        return written
    except BaseException:
        with contextlib.suppress(BackupError):
            _admin(params, f"DROP DATABASE IF EXISTS {_ident(new_db)}")
        raise


def discard_database(params: Mapping[str, str], db: str) -> list[str]:
    """Drop `db` if a killed restore left it half-loaded (it still bears the restore's mark); else nothing."""
    import psycopg

    try:
        with psycopg.connect(_conninfo(params, "postgres"), password=params.get("password")) as conn:
            row = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (db,)
            ).fetchone()
    except psycopg.Error as exc:
        raise BackupError(redact(f"PostgreSQL refused: {str(exc).strip().splitlines()[0]}")) from None
    if row is None or row[0] != _RESTORING:
        return []
    _admin(params, f"DROP DATABASE IF EXISTS {_ident(db)}")
    return [f"database {db}"]


def check_database(params: Mapping[str, str], db: str, checks: VerifyChecks) -> list[str]:
    """Run the configured checks against restored database `db`; BackupError on a failure."""
    import psycopg

    passed: list[str] = []
    try:
        with psycopg.connect(_conninfo(params, db), password=params.get("password")) as conn:
            rows = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema NOT IN "
                "('pg_catalog', 'information_schema')"
            ).fetchall()
            passed.extend(check_tables({r[0] for r in rows}, checks))
            for query in checks.queries:
                try:
                    row = conn.execute(query.sql.encode()).fetchone()  # the operator's own check SQL
                except psycopg.Error as exc:
                    raise BackupError(f"check query failed: {query.sql!r}: {str(exc).strip()}") from None
                passed.append(check_query(query.sql, row, query.min_rows))
    except psycopg.OperationalError as exc:
        raise BackupError(redact(f"cannot check restored database {db}: {exc}")) from None
    return passed


def replace_database(params: Mapping[str, str], live: str, restored: str, suffix: str) -> str:
    """Rename `live` aside (kept) and `restored` to `live`; returns the old database's new name."""
    aside = f"{live}_replaced_{suffix}"
    _admin(params, f"ALTER DATABASE {_ident(live)} RENAME TO {_ident(aside)}")
    _admin(params, f"ALTER DATABASE {_ident(restored)} RENAME TO {_ident(live)}")
    return aside


def drop_database(params: Mapping[str, str], db: str) -> None:
    """Drop a scratch database."""
    _admin(params, f"DROP DATABASE IF EXISTS {_ident(db)}")
