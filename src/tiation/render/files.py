"""Writing rendered files: atomically (temp file + rename), and only when their content changed.

Every renderer returns `RenderedFile`s; `write_files` puts them in a directory and removes files an earlier
render wrote there that the new one no longer produces (recognised by the marker in their first line, so a file
tiation did not write is never touched).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tiation.errors import TiationError


@dataclass(frozen=True)
class RenderedFile:
    """One file to write: its name inside the output directory, its text, and what it is."""

    name: str
    content: str
    role: str
    group: str | None = None

    @property
    def sha256(self) -> str:
        """SHA-256 of the file's bytes (UTF-8)."""
        return hashlib.sha256(self.content.encode()).hexdigest()


@dataclass(frozen=True)
class Written:
    """One file after a write: where it is and whether its bytes changed."""

    path: Path
    file: RenderedFile
    changed: bool


def write_files(
    out_dir: Path, files: Sequence[RenderedFile], *, marker: str = "", suffixes: Sequence[str] = ()
) -> tuple[list[Written], list[Path]]:
    """Write `files` into `out_dir` (created if missing); return them and the stale files removed.

    A stale file is one in `out_dir` ending in one of `suffixes` whose first line holds `marker`, that is not
    among `files`.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TiationError(f"cannot create {out_dir}: {exc.strerror or exc}") from None
    written = [_write(out_dir / f.name, f) for f in files]
    keep = {f.name for f in files}
    removed: list[Path] = []
    if marker and suffixes:
        for path in sorted(out_dir.iterdir()):
            if path.name in keep or not path.name.endswith(tuple(suffixes)) or not path.is_file():
                continue
            if marker in _first_line(path):
                path.unlink()
                removed.append(path)
    return written, removed


def _first_line(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            return fh.readline()
    except OSError:
        return ""


def _write(path: Path, file: RenderedFile) -> Written:
    data = file.content.encode()
    try:
        if path.is_file() and path.read_bytes() == data:
            return Written(path, file, changed=False)
        write_atomic(path, data)
    except OSError as exc:
        raise TiationError(f"cannot write {path}: {exc.strerror or exc}") from None
    return Written(path, file, changed=True)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace `path` with `data` so a reader sees the old or the new file, never a part of one."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(mode)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):  # make the rename durable; not every file system allows this
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
