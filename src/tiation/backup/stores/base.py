"""The Store interface: where backup objects and their manifests live.

Writes are atomic: an object becomes visible only when `put_stream` returns; a *backup* becomes visible (listed)
only when its manifest is written, which the pipeline does last. A failed or killed upload leaves nothing listed,
and `cleanup()` removes whatever partial objects (temp files, incomplete multipart uploads) it left.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

from tiation.errors import BackupError


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


def check_key(store_name: str, key: str) -> None:
    """Raise BackupError unless `key` is a clean relative `/`-separated path (no `..`, no temp-file names)."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") or p.startswith(".tmp-") for p in parts):
        raise BackupError(f"storage {store_name} refuses the object key {key!r}")


def store_write_error(store_name: str, key: str, exc: BaseException) -> BackupError:
    """The one-line BackupError for a failed write of `key` (a full disk gets its own wording)."""
    if isinstance(exc, BackupError):
        return exc
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return BackupError(f"storage {store_name} is full while writing {key}")
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    return BackupError(f"storage {store_name} failed while writing {key}: {detail}")
