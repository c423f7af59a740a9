"""An in-memory Store for tests, with the same atomicity as the real ones and a fault switch.

`fail_next_put(after_bytes)` makes the next `put_stream` fail once it has accepted that many bytes (by default
as a full disk does, ENOSPC), so tests can check that a failed upload leaves nothing behind.
"""

from __future__ import annotations

import errno
import io
import itertools
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import BinaryIO

from tiation.backup.stores.base import ObjectStat, check_key, store_write_error
from tiation.clock import Clock, SystemClock
from tiation.errors import BackupError


class MemoryStore:
    """Objects in a dict. Writes are staged and only become visible when complete."""

    def __init__(self, name: str = "memory", *, clock: Clock | None = None) -> None:
        self.name = name
        self._clock: Clock = clock or SystemClock()
        self._objects: dict[str, tuple[bytes, datetime]] = {}
        self._staged: dict[int, bytearray] = {}
        self._active: set[int] = set()
        self._ids = itertools.count(1)
        self._fault: tuple[int, OSError] | None = None
        self._lock = threading.Lock()

    def fail_next_put(self, after_bytes: int, error: OSError | None = None) -> None:
        """Make the next put_stream fail once `after_bytes` bytes were written (default: ENOSPC)."""
        self._fault = (after_bytes, error or OSError(errno.ENOSPC, "No space left on device"))

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> ObjectStat:
        """Write `key` from `chunks` atomically; on any error nothing is left. Raises BackupError."""
        check_key(self.name, key)
        with self._lock:
            token = next(self._ids)
            buf = self._staged[token] = bytearray()
            self._active.add(token)
            fault, self._fault = self._fault, None
        try:
            for chunk in chunks:
                if fault is not None and len(buf) + len(chunk) > fault[0]:
                    buf += chunk[: max(0, fault[0] - len(buf))]
                    raise fault[1]
                buf += chunk
            stat = ObjectStat(key, len(buf), self._clock.now())
            with self._lock:
                self._objects[key] = (bytes(buf), stat.modified)
                del self._staged[token]
            return stat
        except BaseException as exc:
            with self._lock:
                self._staged.pop(token, None)
            if isinstance(exc, Exception) and not isinstance(exc, BackupError):
                raise store_write_error(self.name, key, exc) from exc
            raise
        finally:
            with self._lock:
                self._active.discard(token)

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Read `key` in chunks. Raises BackupError if it does not exist."""
        data = self._get(key)
        return (data[i : i + chunk_size] for i in range(0, len(data), chunk_size))

    def open_read(self, key: str) -> BinaryIO:
        """A file-like reader of `key`."""
        return io.BytesIO(self._get(key))

    def list(self, prefix: str = "") -> list[ObjectStat]:
        """Complete objects under `prefix`, sorted by key."""
        with self._lock:
            items = sorted((k, v) for k, v in self._objects.items() if k.startswith(prefix))
        return [ObjectStat(k, len(data), modified) for k, (data, modified) in items]

    def stat(self, key: str) -> ObjectStat | None:
        """The object's stat, or None."""
        with self._lock:
            found = self._objects.get(key)
        return None if found is None else ObjectStat(key, len(found[0]), found[1])

    def delete(self, key: str) -> None:
        """Delete `key` (no error if it is already gone)."""
        with self._lock:
            self._objects.pop(key, None)

    def cleanup(self) -> int:
        """Drop staged writes that are not in progress; returns how many."""
        with self._lock:
            stale = [t for t in self._staged if t not in self._active]
            for token in stale:
                del self._staged[token]
        return len(stale)

    def staged_count(self) -> int:
        """How many partial writes exist right now (tests: must be 0 after a failure)."""
        with self._lock:
            return len(self._staged)

    def _get(self, key: str) -> bytes:
        with self._lock:
            found = self._objects.get(key)
        if found is None:
            raise BackupError(f"storage {self.name} has no object {key}")
        return found[0]
