"""Extract a tar stream into a new directory without ever writing outside it, whatever the archive holds.

tarfile's `filter="data"` is not enough on its own: on Python 3.11.7 a chain of nested symlinks whose resolved
path exceeds PATH_MAX makes `os.path.realpath` stop resolving, and writes escape (CVE-2025-4517). So the check
here never asks realpath. Members are extracted one by one into a private staging directory beside the target,
and every path is walked component by component with `lstat`:

- names are relative, with no `..` component; only files, directories, symlinks and hard links are extracted
  (device nodes, FIFOs and anything else are refused);
- no member is written *through* a symlink: every parent component must be a real directory created by this
  extraction, and files are created with `O_CREAT | O_EXCL | O_NOFOLLOW`;
- a symlink's target is relative, its `..` components come only first, and resolved from the link's own
  (real) directory it stays inside — so, by induction, following any chain of extracted links stays inside;
- a hard link's target is an already extracted regular file (reached without symlinks).

On success the staging directory is renamed onto the target (an empty directory is replaced atomically); on
any refusal or error it is removed and one BackupError line names the member and the reason.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import tarfile
from pathlib import Path
from typing import IO

from tiation.errors import BackupError

_COPY = 1 << 20


def _parts(name: str, what: str) -> list[str]:
    """The clean components of a member name (or hard-link target); BackupError if it could escape."""
    if "\x00" in name or name.startswith("/"):
        raise BackupError(f"archive {what} {name!r} is an absolute path: refused")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BackupError(f"archive {what} {name!r} leaves the target ('..'): refused")
    return parts


class _Extraction:
    """One extraction into `root` (the staging directory), member by member."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0
        self.dirs: list[tuple[Path, int, float]] = []  # modes and times applied last (children change them)

    def _parent(self, parts: list[str], name: str) -> Path:
        """The member's parent directory, created as real directories; refused if any component is not one."""
        here = self.root
        for part in parts[:-1]:
            here = here / part
            try:
                st = os.lstat(here)
            except FileNotFoundError:
                here.mkdir(0o700)
                continue
            if not stat.S_ISDIR(st.st_mode):  # a symlink (never followed) or a file
                raise BackupError(f"archive member {name!r} would be written through a link or file: refused")
        return here

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        """Extract one member, or raise BackupError naming it and why it is refused."""
        name = member.name
        parts = _parts(name, "member")
        if not parts:
            return  # the archive's root directory entry
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            raise BackupError(f"archive member {name!r} is a device, FIFO or other special file: refused")
        path = self._parent(parts, name) / parts[-1]
        if member.isdir():
            self._directory(path, member)
        elif member.issym():
            _check_symlink(parts, member.linkname, name)
            path.symlink_to(member.linkname)
            os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
        elif member.islnk():
            os.link(self._link_source(member.linkname, name), path, follow_symlinks=False)
        else:
            self._file(tar, member, path)
        self.count += 1

    def _directory(self, path: Path, member: tarfile.TarInfo) -> None:
        try:
            path.mkdir(0o700)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                raise BackupError(
                    f"archive member {member.name!r} replaces a link or file: refused"
                ) from None
        self.dirs.append((path, (member.mode & 0o755) | 0o700, float(member.mtime)))

    def _file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            raise BackupError(f"archive member {member.name!r} appears twice: refused") from None
        data = tar.extractfile(member)
        assert data is not None  # a regular file always has a data stream
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(data, out, _COPY)
            os.fchmod(out.fileno(), (member.mode & 0o755) | 0o600)
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)

    def _link_source(self, linkname: str, name: str) -> Path:
        """The extracted regular file a hard link points to (reached without following any symlink)."""
        parts = _parts(linkname, "hard link target")
        here = self.root
        for index, part in enumerate(parts):
            here = here / part
            try:
                st = os.lstat(here)
            except FileNotFoundError:
                st = None
            if st is None or (index < len(parts) - 1 and not stat.S_ISDIR(st.st_mode)):
                raise BackupError(f"archive hard link {name!r} points outside the archive: refused")
        if not parts or not stat.S_ISREG(os.lstat(here).st_mode):
            raise BackupError(f"archive hard link {name!r} does not point to an extracted file: refused")
        return here

    def finish(self) -> None:
        """Apply directory modes and times, deepest first."""
        for path, mode, mtime in sorted(self.dirs, key=lambda d: len(d[0].parts), reverse=True):
            path.chmod(mode, follow_symlinks=False)
            os.utime(path, (mtime, mtime), follow_symlinks=False)


def _check_symlink(parts: list[str], target: str, name: str) -> None:
    """Refuse a symlink whose target could resolve outside the extraction root."""
    if not target or target.startswith("/") or "\x00" in target:
        raise BackupError(f"archive symlink {name!r} points to an absolute path: refused")
    steps = [p for p in target.split("/") if p not in ("", ".")]
    ups = 0
    while ups < len(steps) and steps[ups] == "..":
        ups += 1
    if ".." in steps[ups:]:
        # `a/../b`: the kernel follows `a` first (it may be a link), so lexical resolution would lie
        raise BackupError(f"archive symlink {name!r} has '..' after a name in its target: refused")
    if ups > len(parts) - 1:
        raise BackupError(f"archive symlink {name!r} points outside the target: refused")


def _staging_prefix(dest: Path) -> str:
    return f".{dest.name}.tiation-restoring-"


def remove_staging(dest: Path) -> list[str]:
    """Remove the staging directories a killed extraction into `dest` left; return their paths."""
    removed = []
    for staging in sorted(dest.parent.glob(f"{_staging_prefix(dest)}*")):
        shutil.rmtree(staging, ignore_errors=True)
        removed.append(str(staging))
    return removed


def extract_tar(fileobj: IO[bytes], dest: Path) -> int:
    """Extract the tar stream `fileobj` into `dest` (absent or an empty directory); return the member count.

    Raises BackupError (one line) if a member is refused or the stream fails; then nothing is left behind.
    """
    if dest.is_symlink() or (dest.exists() and (not dest.is_dir() or any(dest.iterdir()))):
        raise BackupError(f"{dest} is not empty: restore files into a new directory")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.parent / f"{_staging_prefix(dest)}{secrets.token_hex(4)}"
    staging.mkdir(0o700)
    try:
        job = _Extraction(staging)
        with tarfile.open(fileobj=fileobj, mode="r|") as tar:
            for member in tar:
                job.add(tar, member)
        job.finish()
        if dest.is_dir():
            staging.chmod(stat.S_IMODE(dest.lstat().st_mode))  # keep the mode of the given directory
        staging.rename(dest)  # replaces an empty directory atomically
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)  # never follows symlinks
        if isinstance(exc, tarfile.TarError):
            raise BackupError(f"archive is not a valid tar stream: {exc}") from None
        if isinstance(exc, OSError) and not isinstance(exc, BackupError):
            raise BackupError(f"cannot extract into {dest}: {exc.strerror or exc}") from None
        raise
    return job.count
