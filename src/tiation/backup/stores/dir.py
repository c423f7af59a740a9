"""A Store in a local (or mounted) directory: atomic writes by temp file + fsync + rename.

Each write goes to `.tmp-<pid>-<random>` beside its final name, is flushed and fsynced, renamed over the
final name with `os.replace`, and the directory is fsynced so the rename survives a crash. Temp files are
never listed. `cleanup()` removes every temp file except those this process is writing now and those whose
writer process (by the pid in the name) is still alive on this host; a killed writer's temp files go.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from tiation.backup.stores.base import ObjectStat, check_key, store_write_error
from tiation.errors import BackupError

_TMP = ".tmp-"
# Temp files being written by this process (absolute paths), shared by every DirStore of the process.
_ACTIVE: set[str] = set()
_ACTIVE_LOCK = threading.Lock()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _writer_alive(name: str) -> bool:
    """True if the temp file `name` belongs to another process that is still running."""
    pid_text = name[len(_TMP) :].split("-", 1)[0]
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class DirStore:
    """Objects as files under `root`; keys are relative paths."""

    def __init__(self, root: Path, name: str = "dir") -> None:
        self.root = Path(root).absolute()
        self.name = name

    def _path(self, key: str) -> Path:
        check_key(self.name, key)
        return self.root / key

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> ObjectStat:
        """Write `key` from `chunks` atomically; on any error nothing is left under `key`. Raises BackupError."""
        path = self._path(key)
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f"{_TMP}{os.getpid()}-", dir=path.parent)
            with _ACTIVE_LOCK:
                _ACTIVE.add(tmp)
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            Path(tmp).replace(path)
            tmp = None
            _fsync_dir(path.parent)
            st = path.stat()
            return ObjectStat(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))
        except BaseException as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, Exception) and not isinstance(exc, BackupError):
                raise store_write_error(self.name, key, exc) from exc
            raise
        finally:
            if tmp is not None:
                with _ACTIVE_LOCK:
                    _ACTIVE.discard(tmp)

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Read `key` in chunks. Raises BackupError if it does not exist (at once, not on first iteration)."""
        handle = self.open_read(key)
        return self._chunks(handle, chunk_size)

    @staticmethod
    def _chunks(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def open_read(self, key: str) -> BinaryIO:
        """A file-like reader of `key` (the caller closes it)."""
        path = self._path(key)
        try:
            return path.open("rb")
        except FileNotFoundError:
            raise BackupError(f"storage {self.name} has no object {key}") from None
        except OSError as exc:
            raise BackupError(f"storage {self.name} cannot read {key}: {exc.strerror}") from exc

    def list(self, prefix: str = "") -> list[ObjectStat]:
        """Complete objects under `prefix`, sorted by key (temp files are never listed)."""
        found: list[ObjectStat] = []
        if not self.root.is_dir():
            return found
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            base = Path(dirpath)
            for filename in filenames:
                if filename.startswith(_TMP):
                    continue
                key = (base / filename).relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    st = (base / filename).stat()
                except FileNotFoundError:
                    continue
                found.append(ObjectStat(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC)))
        return sorted(found, key=lambda s: s.key)

    def stat(self, key: str) -> ObjectStat | None:
        """The object's stat, or None."""
        try:
            st = self._path(key).stat()
        except FileNotFoundError:
            return None
        return ObjectStat(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    def delete(self, key: str) -> None:
        """Delete `key` (no error if it is already gone)."""
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise BackupError(f"storage {self.name} cannot delete {key}: {exc.strerror}") from exc
        # a backup is a directory of objects: drop directories the deletion left empty (never the root)
        parent = path.parent
        while parent != self.root and self.root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def cleanup(self) -> int:
        """Remove temp files left by failed or killed writers (and directories they leave empty)."""
        removed = 0
        if not self.root.is_dir():
            return removed
        with _ACTIVE_LOCK:
            active = set(_ACTIVE)
        for dirpath, _dirnames, filenames in os.walk(self.root, topdown=False):
            base = Path(dirpath)
            removed_here = 0
            for filename in filenames:
                path = base / filename
                if not filename.startswith(_TMP) or str(path) in active or _writer_alive(filename):
                    continue
                try:
                    path.unlink()
                    removed_here += 1
                except FileNotFoundError:
                    continue
            removed += removed_here
            if removed_here and base != self.root:
                with contextlib.suppress(OSError):
                    base.rmdir()  # only succeeds if the directory is now empty
        return removed
