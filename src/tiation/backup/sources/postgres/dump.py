"""PostgreSQL dumps: `pg_dump` streamed through a pipe, its exit status checked at the end.

`open()` first connects with psycopg to learn the server's major version (and to turn an unreachable server, a
failed authentication or a missing database into one clear line before anything streams), then starts the
matching `pg_dump` (`-Fc -Z0` or plain SQL) with the password in the child's `PGPASSWORD`, never on its command
line. `close()` waits for pg_dump and raises BackupError if it exited non-zero: a truncated dump is never a success.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Literal

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tiation.backup.sources.base import SourceInfo
from tiation.errors import BackupError
from tiation.redact import redact, register_secret
from tiation.secrets import SecretRef

_STDERR_KEEP = 4096
_PIPE_SIZE = 1 << 20
_CONNECT_TIMEOUT_S = "10"
_WAIT_TIMEOUT_S = 30.0
_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_FORMATS: dict[str, tuple[str, list[str]]] = {
    "custom": ("pg_dump-custom", ["--format=custom", "-Z0"]),
    "plain": ("pg_dump-plain", ["--format=plain"]),
}


def parse_dsn(dsn: str) -> dict[str, str]:
    """libpq parameters (host, port, user, dbname, password …) of a URL, SQLAlchemy URL or key=value DSN."""
    text = dsn.strip()
    scheme, sep, rest = text.partition("://")
    if sep:
        base = scheme.split("+", 1)[0].lower()
        if base not in ("postgresql", "postgres"):
            raise BackupError(f"not a PostgreSQL DSN: scheme {scheme!r}")
        text = f"postgresql://{rest}"
    try:
        params = conninfo_to_dict(text)
    except psycopg.ProgrammingError as exc:
        raise BackupError(f"invalid PostgreSQL DSN: {_first_line(str(exc))}") from None
    return {k: str(v) for k, v in params.items() if v is not None}


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return redact(lines[0]) if lines else ""


def _where(params: dict[str, str]) -> str:
    host = params.get("host") or params.get("hostaddr") or "localhost"
    return f"{host}:{params.get('port') or '5432'}"


def _connect_error(exc: psycopg.Error, params: dict[str, str]) -> BackupError:
    """One line for a failed connection: refused, authentication, missing database, or libpq's first line."""
    where = _where(params)
    text = str(exc)
    low = text.lower()
    user = params.get("user", "")
    if "connection refused" in low:
        return BackupError(f"cannot connect to PostgreSQL at {where}: connection refused", retryable=True)
    if "password authentication failed" in low or "no password supplied" in low:
        return BackupError(f"authentication failed for user {user!r} at PostgreSQL {where}")
    if re.search(r'role ".*" does not exist', low):
        return BackupError(f"authentication failed for user {user!r} at PostgreSQL {where}: no such role")
    if re.search(r'database ".*" does not exist', low):
        return BackupError(f"database {params.get('dbname', '')!r} does not exist on PostgreSQL at {where}")
    if "timeout expired" in low:
        return BackupError(f"cannot connect to PostgreSQL at {where}: timed out", retryable=True)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    detail = lines[0] if lines else type(exc).__name__
    detail = re.sub(r"^connection failed:\s*", "", detail)
    detail = re.sub(r'^connection to server at "[^"]*"(?: \([^)]*\))?, port \d+ failed:\s*', "", detail)
    return BackupError(f"cannot connect to PostgreSQL at {where}: {redact(detail)}")


def _pg_dump_version(binary: str) -> tuple[int, str]:
    """(major version, full version line) of a pg_dump binary."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, check=False, timeout=_WAIT_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"cannot run {binary} --version: {exc}") from None
    line = out.stdout.strip()
    match = _VERSION_RE.search(line)
    if out.returncode != 0 or not match:
        raise BackupError(f"cannot tell the version of {binary}: {_first_line(out.stderr or line)!r}")
    return int(match.group(1)), line


def widen_pipe(fd: int) -> None:
    """Give pg_dump a 1 MiB pipe so it keeps dumping while the pipeline compresses (default: 64 KiB)."""
    size = _PIPE_SIZE
    with contextlib.suppress(OSError, ValueError):
        size = min(size, int(Path("/proc/sys/fs/pipe-max-size").read_text()))
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the default pipe is fine, only slower
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)


KIND = "postgres"


class PgDump:
    """A PostgreSQL database, dumped with `pg_dump` in custom (`-Fc -Z0`) or plain SQL format."""

    def __init__(
        self,
        dsn: str | SecretRef,
        *,
        format: Literal["custom", "plain"] = "custom",
        pg_dump: str | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        if format not in _FORMATS:
            raise ValueError(f"format must be 'custom' or 'plain', got {format!r}")
        self._dsn = dsn
        self.format = format
        self._pg_dump = pg_dump
        self._extra_args = list(extra_args)

    def params(self) -> dict[str, str]:
        """The DSN's libpq parameters (the password, if any, is registered for redaction)."""
        dsn = self._dsn.reveal() if isinstance(self._dsn, SecretRef) else self._dsn
        params = parse_dsn(dsn)
        if params.get("password"):
            register_secret(params["password"])
        return params

    def _server_facts(self, params: dict[str, str]) -> tuple[int, str, str]:
        """(server_version_num, server_version, current database), or a one-line BackupError."""
        kwargs: dict[str, Any] = {"connect_timeout": _CONNECT_TIMEOUT_S, **params}
        try:
            with psycopg.connect(**kwargs) as conn:
                row = conn.execute(
                    "SELECT current_setting('server_version_num')::int, current_setting('server_version'), "
                    "current_database()"
                ).fetchone()
        except psycopg.Error as exc:
            raise _connect_error(exc, params) from None
        if row is None:  # pragma: no cover - a SELECT of constants always returns a row
            raise BackupError(f"PostgreSQL at {_where(params)} returned no version")
        return int(row[0]), str(row[1]), str(row[2])

    def _binary(self, server_major: int) -> tuple[str, int, str]:
        if self._pg_dump is not None:
            binary = self._pg_dump
        else:
            versioned = Path(f"/usr/lib/postgresql/{server_major}/bin/pg_dump")
            found = str(versioned) if versioned.is_file() else shutil.which("pg_dump")
            if found is None:
                raise BackupError("pg_dump not found (install the PostgreSQL client tools)")
            binary = found
        major, line = _pg_dump_version(binary)
        if major < server_major:
            raise BackupError(
                f"{binary} is version {major}, older than the PostgreSQL {server_major} server; "
                f"use pg_dump {server_major} or newer"
            )
        return binary, major, line

    def open(self) -> PostgresReader:
        """Check the server, then start pg_dump. Raises BackupError (one line) if it cannot be reached."""
        params = self.params()
        version_num, server_version, dbname = self._server_facts(params)
        server_major = version_num // 10000 if version_num >= 100000 else version_num // 100
        binary, _, dump_version = self._binary(server_major)
        conn = {k: v for k, v in params.items() if k != "password"}
        conn.setdefault("dbname", dbname)
        fmt_name, fmt_args = _FORMATS[self.format]
        argv = [binary, "--no-password", *fmt_args, *self._extra_args, f"--dbname={make_conninfo(**conn)}"]
        env = dict(os.environ)
        if params.get("password"):
            env["PGPASSWORD"] = params["password"]
        details = {
            "server_version": server_version,
            "pg_dump_version": dump_version,
            "database": dbname,
            "host": params.get("host") or params.get("hostaddr") or "localhost",
            "port": int(params.get("port") or 5432),
        }
        info = SourceInfo(kind=KIND, format=fmt_name, details=details)
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
            )
        except OSError as exc:
            raise BackupError(f"cannot start {binary}: {exc.strerror}") from None
        assert proc.stdout is not None
        widen_pipe(proc.stdout.fileno())
        return PostgresReader(proc, info)


class PostgresReader:
    """The stdout of a running pg_dump; `close()` checks its exit status."""

    def __init__(self, proc: subprocess.Popen[bytes], info: SourceInfo) -> None:
        self._proc = proc
        self._info = info
        self._stderr = bytearray()
        self._done = False
        self._eof = False
        self._aborted = False
        self._stderr_thread = threading.Thread(
            target=self._drain_stderr, name=f"pg_dump-stderr-{proc.pid}", daemon=True
        )
        self._stderr_thread.start()

    @property
    def pid(self) -> int:
        """The pg_dump process id."""
        return self._proc.pid

    @property
    def argv(self) -> list[str]:
        """The pg_dump command line (it holds no password: that is in the child's environment)."""
        return [str(a) for a in self._proc.args]  # type: ignore[union-attr]

    def _drain_stderr(self) -> None:
        stream = self._proc.stderr
        assert stream is not None
        for chunk in iter(lambda: os.read(stream.fileno(), 4096), b""):
            self._stderr += chunk
            if len(self._stderr) > _STDERR_KEEP:
                del self._stderr[: len(self._stderr) - _STDERR_KEEP]

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes of the dump (all the rest if `size` < 0); b"" at the end."""
        if self._done:
            raise BackupError("pg_dump stream read after close")
        stdout = self._stdout()
        data = stdout.read() if size is None or size < 0 else stdout.read(size)
        if not data:
            self._eof = True
        return data

    def _stdout(self) -> IO[bytes]:
        stdout = self._proc.stdout
        assert stdout is not None
        return stdout

    def _last_stderr_line(self) -> str:
        text = bytes(self._stderr).decode("utf-8", errors="replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        line = lines[-1] if lines else "no error output"
        return redact(re.sub(r"^pg_dump:\s*(?:error:\s*)?", "", line))

    def _finish(self) -> int:
        try:
            rc = self._proc.wait(timeout=_WAIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            rc = self._proc.wait()
        self._stderr_thread.join(timeout=_WAIT_TIMEOUT_S)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._done = True
        return rc

    def close(self) -> SourceInfo:
        """Wait for pg_dump; raise BackupError if it failed or if its output was not read to the end."""
        if self._aborted:
            raise BackupError("pg_dump was aborted")
        if self._done:
            return self._info
        if not self._eof and self._stdout().read(1):
            self.abort()
            raise BackupError("pg_dump output was closed before it was read to the end")
        rc = self._finish()
        if rc < 0:
            raise BackupError(f"pg_dump was killed by signal {-rc}: {self._last_stderr_line()}")
        if rc != 0:
            raise BackupError(f"pg_dump exited {rc}: {self._last_stderr_line()}")
        return self._info

    def abort(self) -> None:
        """Kill pg_dump and reap it."""
        self._aborted = True
        if self._done:
            return
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
        self._finish()
