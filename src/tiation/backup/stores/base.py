"""The Store interface: where backup objects and their manifests live.

Writes are atomic: an object becomes visible only when `put_stream` returns; a *backup* becomes visible (listed)
only when its manifest is written, which the pipeline does last. A failed or killed upload leaves nothing listed,
and `cleanup()` removes whatever partial objects (temp files, incomplete multipart uploads) it left.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class ObjectStat:
    """An object's key, size in bytes and last-modified time."""

    key: str
    size: int
    modified: datetime


class Store(Protocol):
    """A place for backup objects: keys are `/`-separated relative paths."""

    name: str

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> ObjectStat:
        """Write `key` from `chunks` atomically; on any error nothing is left under `key`. Raises BackupError."""
        ...

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Read `key` in chunks. Raises BackupError if it does not exist."""
        ...

    def open_read(self, key: str) -> BinaryIO:
        """A file-like reader of `key` (for tools that pull)."""
        ...

    def list(self, prefix: str = "") -> list[ObjectStat]:
        """Complete objects under `prefix`, sorted by key (never partial uploads or temp files)."""
        ...

    def stat(self, key: str) -> ObjectStat | None:
        """The object's stat, or None."""
        ...

    def delete(self, key: str) -> None:
        """Delete `key` (no error if it is already gone)."""
        ...

    def cleanup(self) -> int:
        """Remove partial writes left by failed or killed runs; returns how many."""
        ...
