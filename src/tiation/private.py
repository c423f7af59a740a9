"""Files only the deploying user may read, whatever the umask.

tiation's own directory (`.tiation` beside the platform file: the state store, instance files, logs) is 0700;
the state database (and the WAL/SHM files SQLite creates with the database's mode), service and proxy logs and
the debug log are 0600. Modes are set explicitly (chmod after create), so a umask of 022 or 000 changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) and make `path` itself 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    path.chmod(DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create `path` if missing (its directory must exist) and make it 0600; an existing file keeps its bytes."""
    os.close(_open(path, os.O_WRONLY | os.O_APPEND))
    return path


def open_private_append(path: Path) -> BinaryIO:
    """`path` opened for appending bytes, created 0600 (an existing file is narrowed to 0600)."""
    return os.fdopen(_open(path, os.O_WRONLY | os.O_APPEND), "ab")


def _open(path: Path, flags: int) -> int:
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd
