"""Files restores never write outside the target, whatever the archive holds (CVE-2025-4517 and friends).

Every malicious archive is restored through the files plug-in's `restore`: it must be refused with one
BackupError line, leave nothing outside the target, and leave nothing half-extracted (no target, no staging).
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tiation.backup.sources.files import FilesSource
from tiation.errors import BackupError

Build = Callable[[tarfile.TarFile, Path], None]


def _add(
    tar: tarfile.TarFile, name: str, kind: bytes = tarfile.REGTYPE, *, link: str = "", data: bytes = b""
) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _archive(build: Build, outside: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        build(tar, outside)
    return buf.getvalue()


def _chunks(data: bytes) -> Iterator[bytes]:
    for at in range(0, len(data), 4096):
        yield data[at : at + 4096]


def _dotdot(tar: tarfile.TarFile, outside: Path) -> None:
    _add(tar, "ok.txt", data=b"fine")
    _add(tar, "../outside/pwned", data=b"x")


def _absolute(tar: tarfile.TarFile, outside: Path) -> None:
    _add(tar, "ok.txt", data=b"fine")
    _add(tar, str(outside / "pwned"), data=b"x")


def _symlink_then_write(tar: tarfile.TarFile, outside: Path) -> None:
    _add(tar, "ok.txt", data=b"fine")
    _add(tar, "sub", tarfile.DIRTYPE)
    _add(tar, "sub/out", tarfile.SYMTYPE, link="../../outside")
    _add(tar, "sub/out/pwned", data=b"x")


def _absolute_symlink(tar: tarfile.TarFile, outside: Path) -> None:
    _add(tar, "out", tarfile.SYMTYPE, link=str(outside))
    _add(tar, "out/pwned", data=b"x")


def _hardlink_out(tar: tarfile.TarFile, outside: Path) -> None:
    _add(tar, "ok.txt", data=b"fine")
    _add(tar, "victim", tarfile.LNKTYPE, link=str(outside / "secret"))


def _hardlink_dotdot(tar: tarfile.TarFile, outside: Path) -> None:
    _add(tar, "victim", tarfile.LNKTYPE, link="../outside/secret")


def _hardlink_through_symlink(tar: tarfile.TarFile, outside: Path) -> None:
    _add(tar, "ok", tarfile.SYMTYPE, link=".")
    _add(tar, "l", tarfile.SYMTYPE, link="..")  # refused already: points out
    _add(tar, "victim", tarfile.LNKTYPE, link="l/outside/secret")


def _link_then_dotdot(tar: tarfile.TarFile, outside: Path) -> None:
    # lexically `here/../outside` is inside, but the kernel follows `here` (-> .) first, then `..` leaves
    _add(tar, "here", tarfile.SYMTYPE, link=".")
    _add(tar, "escape", tarfile.SYMTYPE, link="here/../../outside")
    _add(tar, "escape/pwned", data=b"x")


def _cve_2025_4517(tar: tarfile.TarFile, outside: Path) -> None:
    """The CVE's PoC (as CPython's own test builds it): nested symlinks whose resolved path exceeds PATH_MAX,
    so realpath stops resolving; `escape` then points outside, a hard link through it reaches an outside
    file, and a regular member of the same name overwrites it."""
    dest = outside.parent / "work" / "restored"
    steps = "abcdefghijklmnop"
    comp = "d" * ((os.pathconf("/", "PC_PATH_MAX") - len(str(dest)) - 1) // (len(steps) + 1))
    path = ""
    for step in steps:
        _add(tar, os.path.join(path, comp), tarfile.DIRTYPE)
        _add(tar, os.path.join(path, step), tarfile.SYMTYPE, link=comp)
        path = os.path.join(path, comp)
    linkpath = os.path.join(*steps, "l" * 254)
    _add(tar, linkpath, tarfile.SYMTYPE, link=os.path.join(*[".."] * len(steps)))
    _add(tar, "escape", tarfile.SYMTYPE, link=linkpath + "/../../outside")
    _add(tar, "flaglink", tarfile.LNKTYPE, link="escape/secret")
    _add(tar, "flaglink", data=b"overwritten")
    _add(tar, "escape/newfile", data=b"new")


def _short_chain(tar: tarfile.TarFile, outside: Path) -> None:
    """The same chain with short names: refused by the link rules, not by a path-length error."""
    path = ""
    for step in "abc":
        _add(tar, os.path.join(path, "d"), tarfile.DIRTYPE)
        _add(tar, os.path.join(path, step), tarfile.SYMTYPE, link="d")
        path = os.path.join(path, "d")
    _add(tar, "a/b/c/l", tarfile.SYMTYPE, link="../../..")


def _device(tar: tarfile.TarFile, outside: Path) -> None:
    _add(tar, "ok.txt", data=b"fine")
    info = tarfile.TarInfo("null")
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    tar.addfile(info)


def _block_device(tar: tarfile.TarFile, outside: Path) -> None:
    info = tarfile.TarInfo("disk")
    info.type, info.devmajor, info.devminor = tarfile.BLKTYPE, 8, 0
    tar.addfile(info)


def _fifo(tar: tarfile.TarFile, outside: Path) -> None:
    _add(tar, "ok.txt", data=b"fine")
    _add(tar, "pipe", tarfile.FIFOTYPE)


def _file_over_symlink(tar: tarfile.TarFile, outside: Path) -> None:
    _add(tar, "link", tarfile.SYMTYPE, link="target")
    _add(tar, "link", data=b"x")  # a second member of the same name, written over the link


MALICIOUS: dict[str, Build] = {
    "dotdot": _dotdot,
    "absolute": _absolute,
    "symlink-then-write": _symlink_then_write,
    "absolute-symlink": _absolute_symlink,
    "hardlink-out": _hardlink_out,
    "hardlink-dotdot": _hardlink_dotdot,
    "hardlink-through-symlink": _hardlink_through_symlink,
    "link-then-dotdot": _link_then_dotdot,
    "cve-2025-4517": _cve_2025_4517,
    "short-chain": _short_chain,
    "char-device": _device,
    "block-device": _block_device,
    "fifo": _fifo,
    "file-over-symlink": _file_over_symlink,
}


def _snapshot(root: Path) -> dict[str, tuple[int, bytes | str]]:
    found: dict[str, tuple[int, bytes | str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            body: bytes | str = os.readlink(path) if path.is_symlink() else b""
            if stat.S_ISREG(st.st_mode):
                body = path.read_bytes()
            found[str(path.relative_to(root))] = (st.st_mode, body)
    return found


@pytest.mark.parametrize("kind", sorted(MALICIOUS))
def test_malicious_archive_is_refused_and_leaves_nothing(kind: str, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("keep me")
    work = tmp_path / "work"
    work.mkdir()
    target = work / "restored"
    data = _archive(MALICIOUS[kind], outside)
    before = _snapshot(tmp_path)
    with pytest.raises(BackupError) as caught:
        FilesSource([tmp_path]).restore(_chunks(data), str(target), {})
    message = str(caught.value)
    assert "\n" not in message and ("refused" in message or "cannot extract" in message), message
    assert _snapshot(tmp_path) == before  # nothing outside, nothing half-extracted, no staging left
    assert list(work.iterdir()) == []


def test_empty_target_directory_keeps_nothing_on_refusal(tmp_path: Path) -> None:
    target = tmp_path / "given"
    target.mkdir()
    with pytest.raises(BackupError, match="device"):
        FilesSource([tmp_path]).restore(_chunks(_archive(_device, tmp_path)), str(target), {})
    assert list(tmp_path.iterdir()) == [target] and list(target.iterdir()) == []


def test_benign_archive_with_inside_links_restores(tmp_path: Path) -> None:
    def build(tar: tarfile.TarFile, outside: Path) -> None:
        _add(tar, "site", tarfile.DIRTYPE)
        _add(tar, "site/data", tarfile.DIRTYPE)
        _add(tar, "site/data/a.txt", data=b"alpha")
        _add(tar, "site/up", tarfile.SYMTYPE, link="../site/data/a.txt")
        _add(tar, "site/data/same", tarfile.LNKTYPE, link="site/data/a.txt")
        _add(tar, "site/dangling", tarfile.SYMTYPE, link="missing")

    target = tmp_path / "restored"
    result = FilesSource([tmp_path]).restore(_chunks(_archive(build, tmp_path)), str(target), {})
    assert result.notes == ("6 entries extracted",)
    assert (target / "site/data/a.txt").read_bytes() == b"alpha"
    assert os.readlink(target / "site/up") == "../site/data/a.txt"
    assert (target / "site/data/same").stat().st_ino == (target / "site/data/a.txt").stat().st_ino
    assert (target / "site/dangling").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["restored"]


def test_not_empty_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "x").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        FilesSource([tmp_path]).restore(iter([b""]), str(tmp_path / "t"), {})
