"""The Source interface: a producer of one backup's bytes, streamed, whose success is checked at the end.

A backup must never store a truncated stream as a success (the seed's `pg_dump > file; gzip` did): the reader
returns bytes until the producer is done, and `close()` then waits for the producer and raises BackupError if
it failed (exit status, stderr), so the pipeline fails and nothing is listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class SourceInfo:
    """What the manifest records about where the bytes came from (no secrets: DSNs are redacted)."""

    kind: str  # "postgres" | "sqlite" | "files"
    format: str  # e.g. "pg_dump-custom", "sqlite-db", "tar"
    details: dict[str, Any] = field(default_factory=dict)  # tool versions, database name, paths, counts …


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
    """Something that can be backed up."""

    kind: str

    def open(self) -> SourceReader:
        """Start producing; raise BackupError at once if the source cannot be reached (one line)."""
        ...
