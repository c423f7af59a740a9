"""The Source plug-in: everything the backup pillar does with one kind of source, behind one protocol.

A source's whole life is here: `open()` dumps (the byte stream the pipeline reads); `restore()` streams a
backup into a NEW target (a new database, file or directory — never over the live one); `check()` runs the
configured checks on it; `replace()` swaps a checked target in for the live one (keeping the old one);
`scratch()` makes a throwaway target for `verify --restore` and drills and removes it afterwards;
`discard(target) -> list[str]` removes what a *killed* restore into `target` left (a half-loaded database, a
temp file — never a complete target) and names it (see `tiation.backup.restores`). The pillar
never tests a kind string: it asks the plug-in (see `tiation.backup.sources` for how plug-ins are found).

A backup must never store a truncated stream as a success (the seed's `pg_dump > file; gzip` did): the reader
returns bytes until the producer is done, and `close()` then waits for the producer and raises BackupError if
it failed (exit status, stderr), so the pipeline fails and nothing is listed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tiation.config.backups import SourceSettings, VerifyChecks
from tiation.errors import BackupError


@dataclass(frozen=True)
class SourceInfo:
    """What the manifest records about where the bytes came from (no secrets: DSNs are redacted)."""

    kind: str  # the plug-in's kind, e.g. "postgres"
    format: str  # e.g. "pg_dump-custom", "sqlite-db", "tar"
    details: dict[str, Any] = field(default_factory=dict)  # tool versions, database name, paths, counts …


@dataclass(frozen=True)
class Restored:
    """What a restore wrote: its size in bytes, and facts learnt on the way (e.g. "12 entries extracted")."""

    written: int
    notes: tuple[str, ...] = ()


class SourceReader(Protocol):
    """An open stream of backup bytes."""

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes; b"" at the end of the stream."""
        ...

    def close(self) -> SourceInfo:
        """Wait for the producer; raise BackupError (one line, redacted) if it failed; else describe it."""
        ...

    def abort(self) -> None:
        """Stop the producer now and remove any temporary file (the backup failed elsewhere)."""
        ...


class Source(Protocol):
    """Something that can be backed up, restored into a new target, checked and swapped in."""

    kind: str

    def open(self) -> SourceReader:
        """Start producing; raise BackupError at once if the source cannot be reached (one line)."""
        ...

    def restore_target(self, to: str | None, suffix: str) -> str:
        """The new target a restore writes to: `to` if given, else a new name beside the live one.

        Raises UsageError if this kind has no default and `to` is missing.
        """
        ...

    def restore(self, stream: Iterator[bytes], target: str, info: Mapping[str, Any]) -> Restored:
        """Stream the backup's source bytes into the new `target` (it must not exist yet).

        `info` is the manifest's `source` entry (kind, format, details) of the backup being restored. If the
        stream or the write fails, remove whatever was written before raising (callers say it was removed).
        """
        ...

    def check(self, target: str, checks: VerifyChecks) -> list[str]:
        """Run the configured checks on a restored target; one line per check passed, BackupError on a failure."""
        ...

    def replace(self, target: str, suffix: str) -> str:
        """Swap the checked `target` in for the live one; return where the live one was kept.

        Raises UsageError if this kind cannot be swapped in.
        """
        ...

    def scratch(self, label: str, suffix: str) -> AbstractContextManager[str]:
        """A throwaway target (for `verify --restore` and drills), removed again when the context ends."""
        ...

    def discard(self, target: str) -> list[str]:
        """Remove what a killed restore into `target` left (never a complete target); name what was removed."""
        ...


class SourceType(Protocol):
    """A plug-in class: its kind (the key under `source:` in the platform file) and how to build one."""

    kind: str

    def from_settings(self, settings: SourceSettings, root: Path) -> Source:
        """The source configured by `settings`; relative paths are relative to `root` (the file's directory)."""
        ...


# -- checks shared by database sources -------------------------------------------------------------------------
def check_tables(present: set[str], checks: VerifyChecks) -> list[str]:
    """One line per configured table; BackupError naming the tables the restored database lacks."""
    missing = [t for t in checks.tables if t not in present]
    if missing:
        raise BackupError(f"restored database lacks table(s): {', '.join(missing)}")
    return [f"table {t} present" for t in checks.tables]


def check_query(sql: str, row: object, min_rows: int) -> str:
    """The line for a check query's first row; BackupError if it has no row or its count is below `min_rows`."""
    value = row[0] if isinstance(row, tuple | list | sqlite3.Row) and len(row) else None
    if row is None or (isinstance(value, int) and value < min_rows):
        raise BackupError(
            f"check {sql!r} returned {value if row is not None else 'no rows'}, expected >= {min_rows}"
        )
    return f"{sql!r} -> {value}"
