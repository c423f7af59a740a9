"""The `postgres` backup source: `pg_dump` out (`dump.py`), a new database in (`database.py`).

`open()` first connects with psycopg to learn the server's major version (and to turn an unreachable server, a
failed authentication or a missing database into one clear line before anything streams), then starts the
matching `pg_dump`. A restore creates a new database beside the live one (`<db>_restore_<time>`), loads it with
`pg_restore` or `psql`, and checks it; `replace` renames the live one aside; a scratch database is dropped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tiation.backup.sources.base import Restored, SourceInfo
from tiation.backup.sources.postgres import database
from tiation.backup.sources.postgres.dump import KIND, PgDump, PostgresReader, parse_dsn, widen_pipe
from tiation.config.backups import PostgresBackup, SourceSettings, VerifyChecks

__all__ = ["PostgresReader", "PostgresSource", "SourceInfo", "parse_dsn", "widen_pipe"]


class PostgresSource(PgDump):
    """A PostgreSQL database, dumped with `pg_dump` in custom (`-Fc -Z0`) or plain SQL format."""

    kind = KIND

    @classmethod
    def from_settings(cls, settings: SourceSettings, root: Path) -> PostgresSource:
        """The database of `backups.NAME.source.postgres` (its DSN is a secret reference)."""
        assert isinstance(settings, PostgresBackup)
        return cls(settings.dsn, format="plain" if settings.format == "plain" else "custom")

    def restore_target(self, to: str | None, suffix: str) -> str:
        """`to`, else `<live database>_restore_<suffix>`."""
        return to or f"{self.params().get('dbname', 'db')}_restore_{suffix}"

    def restore(self, stream: Iterator[bytes], target: str, info: Mapping[str, Any]) -> Restored:
        """Create database `target` and load the dump (pg_restore or psql, by the backup's format)."""
        params = self.params()
        return Restored(database.restore_database(stream, params, target, str(info.get("format"))))

    def discard(self, target: str) -> list[str]:
        """What a killed restore into `target` leaves: the database, if it still bears the restore's mark."""
        return database.discard_database(self.params(), target)

    def check(self, target: str, checks: VerifyChecks) -> list[str]:
        """The configured tables and queries, run against the restored database."""
        return database.check_database(self.params(), target, checks)

    def replace(self, target: str, suffix: str) -> str:
        """Rename the live database to `<db>_replaced_<suffix>` and `target` to the live name."""
        params = self.params()
        return database.replace_database(params, params["dbname"], target, suffix)

    @contextmanager
    def scratch(self, label: str, suffix: str) -> Iterator[str]:
        """A database named `<label>_scratch_<suffix>`, dropped at the end."""
        name = f"{label.replace('-', '_')}_scratch_{suffix}"
        try:
            yield name
        finally:
            database.drop_database(self.params(), name)


SOURCE = PostgresSource
