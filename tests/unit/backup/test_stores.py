"""The directory and memory stores: atomic writes, nothing partial listed, cleanup of what failed writers left."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tiation.backup.stores.dir import DirStore
from tiation.backup.stores.memory import MemoryStore
from tiation.errors import BackupError

Store = DirStore | MemoryStore


@pytest.fixture(params=["dir", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "dir":
        return DirStore(tmp_path / "store")
    return MemoryStore()


def _temps(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob(".tmp-*"))


def test_put_get_list_stat_delete(store: Store) -> None:
    stat = store.put_stream("b-1/data.zst", [b"abc", b"", b"def"])
    assert (stat.key, stat.size) == ("b-1/data.zst", 6)
    store.put_stream("a-1/manifest.json", [b"{}"])
    assert [s.key for s in store.list()] == ["a-1/manifest.json", "b-1/data.zst"]
    assert [s.key for s in store.list("b-")] == ["b-1/data.zst"]
    assert b"".join(store.get_stream("b-1/data.zst", chunk_size=4)) == b"abcdef"
    with store.open_read("b-1/data.zst") as f:
        assert f.read() == b"abcdef"
    found = store.stat("b-1/data.zst")
    assert found is not None and found.size == 6
    store.delete("b-1/data.zst")
    store.delete("b-1/data.zst")  # already gone: no error
    assert store.stat("b-1/data.zst") is None
    with pytest.raises(BackupError, match=r"has no object b-1/data.zst"):
        store.get_stream("b-1/data.zst")


def test_overwrite_is_atomic_replace(store: Store) -> None:
    store.put_stream("k/obj", [b"old"])
    store.put_stream("k/obj", [b"new!"])
    assert b"".join(store.get_stream("k/obj")) == b"new!"


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "a/.tmp-1-x", "."])
def test_bad_keys_are_refused(store: Store, key: str) -> None:
    with pytest.raises(BackupError, match=r"refuses the object key"):
        store.put_stream(key, [b"x"])


def test_failing_producer_leaves_nothing(store: Store, tmp_path: Path) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"x" * 1000
        raise BackupError("backup b-1 failed at read: boom")

    with pytest.raises(BackupError, match=r"^backup b-1 failed at read: boom$"):
        store.put_stream("b-1/data.zst", chunks())
    assert store.list() == []
    assert store.stat("b-1/data.zst") is None
    if isinstance(store, DirStore):
        assert _temps(tmp_path) == []
    else:
        assert store.staged_count() == 0


def test_an_unexpected_error_becomes_one_line_backup_error(store: Store) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"x"
        raise ValueError("weird\nthing")

    with pytest.raises(BackupError, match=r"failed while writing k/obj: ValueError$"):
        store.put_stream("k/obj", chunks())
    assert store.list() == []


def test_memory_fault_after_n_bytes_reads_as_a_full_disk() -> None:
    store = MemoryStore("mem")
    store.fail_next_put(after_bytes=10)
    with pytest.raises(BackupError, match=r"^storage mem is full while writing k/obj$"):
        store.put_stream("k/obj", [b"12345", b"67890", b"abc"])
    assert store.list() == [] and store.staged_count() == 0
    store.put_stream("k/obj", [b"12345", b"67890", b"abc"])  # the fault was for one put only
    assert store.stat("k/obj") is not None


def test_memory_fault_with_another_error() -> None:
    store = MemoryStore()
    store.fail_next_put(after_bytes=0, error=OSError(errno.EIO, "Input/output error"))
    with pytest.raises(BackupError, match=r"failed while writing k: Input/output error$"):
        store.put_stream("k", [b"x"])


def test_dir_temp_files_are_never_listed_and_cleanup_removes_dead_writers(tmp_path: Path) -> None:
    store = DirStore(tmp_path)
    store.put_stream("b-1/data.zst", [b"data"])
    exited = subprocess.Popen(["true"])
    exited.wait()
    (tmp_path / "b-1" / f".tmp-{exited.pid}-abc").write_bytes(b"partial")
    (tmp_path / "b-2").mkdir()
    (tmp_path / "b-2" / f".tmp-{os.getpid()}-def").write_bytes(b"ours, but not being written")
    (tmp_path / "b-3").mkdir()
    (tmp_path / "b-3" / ".tmp-1-ghi").write_bytes(b"pid 1 is alive: its writer may be running")
    assert [s.key for s in store.list()] == ["b-1/data.zst"]
    assert store.cleanup() == 2
    assert [p.name for p in _temps(tmp_path)] == [".tmp-1-ghi"]
    assert not (tmp_path / "b-2").exists()  # emptied directory removed
    assert (tmp_path / "b-1" / "data.zst").read_bytes() == b"data"
    assert store.cleanup() == 0


def test_dir_cleanup_spares_a_write_in_progress(tmp_path: Path) -> None:
    store = DirStore(tmp_path)
    seen: list[int] = []

    def chunks() -> Iterator[bytes]:
        yield b"first"
        seen.append(store.cleanup())  # runs while our own temp file exists
        assert len(_temps(tmp_path)) == 1
        yield b"second"

    store.put_stream("k/obj", chunks())
    assert seen == [0]
    assert b"".join(store.get_stream("k/obj")) == b"firstsecond"
    assert _temps(tmp_path) == []


def test_dir_store_on_a_missing_root_lists_nothing(tmp_path: Path) -> None:
    store = DirStore(tmp_path / "nope")
    assert store.list() == [] and store.cleanup() == 0 and store.stat("a/b") is None


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): the ENOSPC path is not tested")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_dir_store_on_a_full_filesystem(tiny_tmpfs: Path) -> None:
    store = DirStore(tiny_tmpfs, name="tiny")
    with pytest.raises(BackupError) as caught:
        store.put_stream("b-1/data.zst", (b"z" * 65536 for _ in range(64)))  # 4 MiB into 1 MiB
    assert str(caught.value) == "storage tiny is full while writing b-1/data.zst"
    assert store.list() == []
    assert _temps(tiny_tmpfs) == []
    store.put_stream("b-1/small", [b"fits"])  # the space was given back
    assert store.list()[0].key == "b-1/small"
