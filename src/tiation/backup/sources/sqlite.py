"""SQLite source: a consistent copy made with the online backup API, then streamed.

Copying the file while the application writes could catch a half-written page or miss the WAL; the backup API
copies a consistent snapshot through SQLite itself. The copy goes into a private temp directory, is checked with
`PRAGMA integrity_check`, streamed, and removed by `close()` / `abort()`.

A restore writes a new file beside the live one (`<name>.restored-<time><ext>`, via a temp file and fsync),
checks it (`integrity_check`, the configured tables and queries), and `replace` renames the live file aside.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from tiation.backup.sources.base import Restored, SourceInfo, check_query, check_tables
from tiation.config.backups import SourceSettings, SqliteBackup, VerifyChecks
from tiation.errors import BackupError

_HEADER = b"SQLite format 3\x00"
_BUSY_TIMEOUT_S = 30.0


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            header = fh.read(len(_HEADER))
    except FileNotFoundError:
        raise BackupError(f"SQLite database {path} does not exist") from None
    except IsADirectoryError:
        raise BackupError(f"SQLite database {path} is a directory, not a file") from None
    except OSError as exc:
        raise BackupError(f"cannot read SQLite database {path}: {exc.strerror}") from None
    if header != _HEADER:
        raise BackupError(f"{path} is not an SQLite database")


def _copy(path: Path, dest: Path) -> dict[str, Any]:
    """Back `path` up into `dest` (online backup API); return the details of the checked copy."""
    try:
        src = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open SQLite database {path}: {exc}") from None
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
            integrity = [str(r[0]) for r in dst.execute("PRAGMA integrity_check").fetchall()]
            page_count = int(dst.execute("PRAGMA page_count").fetchone()[0])
            page_size = int(dst.execute("PRAGMA page_size").fetchone()[0])
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up SQLite database {path}: {exc}") from None
    finally:
        src.close()
    return {
        "path": str(path),
        "page_count": page_count,
        "page_size": page_size,
        "size": dest.stat().st_size,
        "sqlite_version": sqlite3.sqlite_version,
        "integrity_check": "ok" if integrity == ["ok"] else "; ".join(integrity[:5]),
    }


class SQLiteSource:
    """An SQLite database file, copied consistently while the application may be writing to it."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def from_settings(cls, settings: SourceSettings, root: Path) -> SQLiteSource:
        """The database file of `backups.NAME.source.sqlite` (relative to `root`)."""
        assert isinstance(settings, SqliteBackup)
        return cls(root / settings.path)

    def open(self) -> SQLiteReader:
        """Make the consistent copy now; raise BackupError (one line) if the file is missing or not SQLite."""
        _check_header(self.path)
        tmp = Path(tempfile.mkdtemp(prefix="tiation-sqlite-"))
        try:
            dest = tmp / "copy.db"
            details = _copy(self.path, dest)
            fh = dest.open("rb")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return SQLiteReader(fh, tmp, SourceInfo(kind=self.kind, format="sqlite-db", details=details))

    def restore_target(self, to: str | None, suffix: str) -> str:
        """`to`, else `<name>.restored-<suffix><ext>` beside the live file."""
        live = self.path
        return to or str(live.with_name(f"{live.stem}.restored-{suffix}{live.suffix}"))

    def restore(self, stream: Iterator[bytes], target: str, info: Mapping[str, Any]) -> Restored:
        """Write the database to `target` (which must not exist) via a temp file and fsync."""
        dest = Path(target)
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
        return Restored(written)

    def discard(self, target: str) -> list[str]:
        """What a killed restore into `target` leaves: its temp file (the target appears only complete)."""
        dest = Path(target)
        tmp = dest.with_name(f".{dest.name}.restoring")
        if not tmp.exists():
            return []
        tmp.unlink(missing_ok=True)
        return [str(tmp)]

    def check(self, target: str, checks: VerifyChecks) -> list[str]:
        """integrity_check, then the configured tables and queries; BackupError on a failure."""
        path = Path(target)
        passed: list[str] = []
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()
            if not result or result[0] != "ok":
                raise BackupError(f"restored database {path.name} fails integrity_check: {result}")
            passed.append("integrity_check ok")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            passed.extend(check_tables(tables, checks))
            for query in checks.queries:
                try:
                    row = conn.execute(query.sql).fetchone()
                except sqlite3.Error as exc:
                    raise BackupError(f"check query failed: {query.sql!r}: {exc}") from None
                passed.append(check_query(query.sql, row, query.min_rows))
        finally:
            conn.close()
        return passed

    def replace(self, target: str, suffix: str) -> str:
        """Move the live file aside (kept, as `<name>.replaced-<suffix>`) and `target` into its place."""
        live = self.path
        aside = live.with_name(f"{live.name}.replaced-{suffix}")
        if live.exists():
            live.replace(aside)
        Path(target).replace(live)
        return str(aside)

    @contextmanager
    def scratch(self, label: str, suffix: str) -> Iterator[str]:
        """A file in a private temp directory, removed at the end."""
        with tempfile.TemporaryDirectory(prefix="tiation-scratch-") as scratch:
            yield str(Path(scratch) / "restored.db")


class SQLiteReader:
    """The bytes of the checked copy; `close()` / `abort()` remove it."""

    def __init__(self, fh: IO[bytes], tmp: Path, info: SourceInfo) -> None:
        self._fh = fh
        self._tmp = tmp
        self._info = info
        self._done = False
        self._aborted = False

    @property
    def info(self) -> SourceInfo:
        """What `close()` will return (the copy is already made and checked)."""
        return self._info

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes of the copy (all the rest if `size` < 0); b"" at the end."""
        if self._done:
            raise BackupError("SQLite backup stream read after close")
        return self._fh.read(size)

    def _cleanup(self) -> None:
        if not self._done:
            self._done = True
            self._fh.close()
            shutil.rmtree(self._tmp, ignore_errors=True)

    def close(self) -> SourceInfo:
        """Remove the copy; raise BackupError if it was not read to the end."""
        if self._aborted:
            raise BackupError("SQLite backup stream was aborted")
        if self._done:
            return self._info
        unread = self._fh.read(1)
        self._cleanup()
        if unread:
            raise BackupError("SQLite backup stream was closed before it was read to the end")
        return self._info

    def abort(self) -> None:
        """Remove the copy."""
        self._aborted = True
        self._cleanup()


SOURCE = SQLiteSource
