"""Files source: a tar stream of files and directories, produced by a thread into a pipe.

Names in the archive are relative (to `base`, or to each path's parent); symlinks are stored as links, never
followed; sockets are skipped (they cannot be restored). A file that cannot be read (vanished, no permission)
fails the backup: the producer stops without writing the end-of-archive blocks and `close()` raises BackupError
naming the file, so a partial archive is never taken for a whole one.

A restore extracts into a new, empty directory (`--to`) through `tiation.backup.safe_tar` (member by member,
into a staging directory renamed into place; no absolute names, no links out, no device files — without
relying on tarfile's own filter); there is no live directory to swap, so `replace` refuses.
"""

from __future__ import annotations

import contextlib
import os
import tarfile
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

from tiation.backup.sources.base import Restored, SourceInfo
from tiation.config.backups import FilesBackup, SourceSettings, VerifyChecks
from tiation.errors import BackupError, UsageError

_JOIN_TIMEOUT_S = 30.0


class _Sink:
    """The pipe's write end as tarfile's file object; once dead (reader gone, producer failed) writes vanish."""

    def __init__(self, fd: int) -> None:
        self._fh: IO[bytes] = os.fdopen(fd, "wb", buffering=0)
        self.dead = False

    def write(self, data: bytes) -> int:
        if not self.dead:
            view = memoryview(data)
            while view:
                written = self._fh.write(view)
                view = view[written or 0 :]
        return len(data)

    def kill(self) -> None:
        self.dead = True
        with contextlib.suppress(OSError):
            self._fh.close()


class _Producer:
    """Walks the paths and writes the tar stream; records counts, or the first error."""

    def __init__(self, entries: list[tuple[Path, str]], sink: _Sink) -> None:
        self._entries = entries
        self._sink = sink
        self.error: BackupError | None = None
        self.counts = {"file_count": 0, "dir_count": 0, "symlink_count": 0, "total_bytes": 0, "skipped": 0}

    def run(self) -> None:
        tar = tarfile.open(fileobj=self._sink, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]  # noqa: SIM115
        ok = False
        try:
            for path, arcname in self._entries:
                self._add(tar, path, arcname)
            ok = True
        except BackupError as exc:
            self.error = exc
        except OSError as exc:  # the pipe: the reader went away (abort)
            self.error = BackupError(f"tar stream stopped: {exc.strerror or exc}")
        finally:
            if not ok:
                self._sink.dead = True  # no end-of-archive blocks after a failure
            try:
                tar.close()
            except OSError as exc:
                if self.error is None:
                    self.error = BackupError(f"tar stream stopped: {exc.strerror or exc}")
            self._sink.kill()

    def _add(self, tar: tarfile.TarFile, path: Path, arcname: str) -> None:
        try:
            info = tar.gettarinfo(str(path), arcname)
        except OSError as exc:
            raise _unreadable(path, exc) from None
        if info is None:  # a socket
            self.counts["skipped"] += 1
            return
        if info.isreg():
            try:
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            except OSError as exc:
                if self._sink.dead or isinstance(exc, BrokenPipeError):
                    raise
                raise _unreadable(path, exc) from None
            self.counts["file_count"] += 1
            self.counts["total_bytes"] += info.size
            return
        tar.addfile(info)
        if info.issym():
            self.counts["symlink_count"] += 1
        elif info.isdir():
            self.counts["dir_count"] += 1
            try:
                names = sorted(child.name for child in path.iterdir())
            except OSError as exc:
                raise _unreadable(path, exc) from None
            for name in names:
                self._add(tar, path / name, f"{arcname}/{name}")


def _absolute(path: Path) -> Path:
    """`path` made absolute and normalised, without following symlinks (unlike `resolve()`)."""
    return Path(os.path.normpath(path.absolute()))


def _unreadable(path: Path, exc: OSError) -> BackupError:
    return BackupError(f"cannot read {path}: {exc.strerror or exc}")


class FilesSource:
    """Files and directories, archived as one tar stream (relative names, symlinks kept as links)."""

    kind = "files"

    def __init__(self, paths: Sequence[Path], *, base: Path | None = None) -> None:
        if not paths:
            raise ValueError("FilesSource needs at least one path")
        self.paths = [Path(p) for p in paths]
        self.base = Path(base) if base is not None else None

    @classmethod
    def from_settings(cls, settings: SourceSettings, root: Path) -> FilesSource:
        """The paths of `backups.NAME.source.files`, archived relative to `root`."""
        assert isinstance(settings, FilesBackup)
        return cls([root / p for p in settings.paths], base=root)

    def _entries(self) -> list[tuple[Path, str]]:
        entries: list[tuple[Path, str]] = []
        seen: set[str] = set()
        for path in self.paths:
            try:
                os.lstat(path)
            except OSError as exc:
                raise _unreadable(path, exc) from None
            if self.base is not None:
                full = _absolute(path)
                base = _absolute(self.base)
                try:
                    arcname = full.relative_to(base).as_posix()
                except ValueError:
                    raise BackupError(f"{path} is not inside the base directory {self.base}") from None
            else:
                arcname = _absolute(path).name or "."
            if arcname in seen:
                raise BackupError(f"two paths would have the same name {arcname!r} in the archive")
            seen.add(arcname)
            entries.append((path, arcname))
        return entries

    def open(self) -> FilesReader:
        """Check every path exists, then start producing the tar stream."""
        entries = self._entries()
        read_fd, write_fd = os.pipe()
        producer = _Producer(entries, _Sink(write_fd))
        thread = threading.Thread(target=producer.run, name="tiation-files-tar", daemon=True)
        thread.start()
        return FilesReader(os.fdopen(read_fd, "rb"), producer, thread, [str(p) for p in self.paths])

    def restore_target(self, to: str | None, suffix: str) -> str:
        """`to`: files have no default place to restore to."""
        if not to:
            raise UsageError("restoring files needs --to DIRECTORY (a new, empty directory)")
        return to

    def restore(self, stream: Iterator[bytes], target: str, info: Mapping[str, Any]) -> Restored:
        """Extract the archive into `target`, a new or empty directory (checked member by member)."""
        from tiation.backup.safe_tar import extract_tar
        from tiation.backup.streams import IterReader
        from tiation.clock import SystemClock

        total = 0

        def counted() -> Iterator[bytes]:
            nonlocal total
            for chunk in stream:
                total += len(chunk)
                yield chunk

        count = extract_tar(cast(IO[bytes], IterReader(counted(), SystemClock())), Path(target))
        return Restored(total, (f"{count} entries extracted",))

    def discard(self, target: str) -> list[str]:
        """What a killed restore into `target` leaves: staging directories (the target appears only complete)."""
        from tiation.backup.safe_tar import remove_staging

        return remove_staging(Path(target))

    def check(self, target: str, checks: VerifyChecks) -> list[str]:
        """Nothing beyond the extraction itself (table and query checks are for databases)."""
        return []

    def replace(self, target: str, suffix: str) -> str:
        """Refused: restored files stay where they were extracted."""
        raise UsageError("--replace applies to databases (sqlite, postgres), not to files")

    @contextmanager
    def scratch(self, label: str, suffix: str) -> Iterator[str]:
        """A directory in a private temp directory, removed at the end."""
        with tempfile.TemporaryDirectory(prefix="tiation-scratch-") as scratch:
            yield str(Path(scratch) / "files")


class FilesReader:
    """The tar stream; `close()` joins the producer and raises its error, if any."""

    def __init__(
        self, fh: IO[bytes], producer: _Producer, thread: threading.Thread, paths: list[str]
    ) -> None:
        self._fh = fh
        self._producer = producer
        self._thread = thread
        self._paths = paths
        self._done = False
        self._info: SourceInfo | None = None

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes of the tar stream (all the rest if `size` < 0); b"" at the end."""
        if self._done:
            raise BackupError("files backup stream read after close")
        return self._fh.read(size)

    def _stop(self) -> None:
        self._done = True
        self._fh.close()  # the producer's next write fails with EPIPE and it stops
        self._thread.join(timeout=_JOIN_TIMEOUT_S)

    def close(self) -> SourceInfo:
        """Wait for the producer; raise BackupError if a file could not be read or the stream was not read."""
        if self._info is not None:
            return self._info
        if self._done:
            raise BackupError("files backup stream was aborted")
        unread = self._fh.read(1)
        self._stop()
        if self._producer.error is not None:
            raise self._producer.error
        if unread:
            raise BackupError("files backup stream was closed before it was read to the end")
        if self._thread.is_alive():
            raise BackupError("files backup producer did not stop")
        details: dict[str, Any] = {"paths": self._paths, **self._producer.counts}
        self._info = SourceInfo(kind="files", format="tar", details=details)
        return self._info

    def abort(self) -> None:
        """Stop the producer."""
        if not self._done:
            self._stop()


SOURCE = FilesSource
