"""SQLiteSource (online backup while a writer runs) and FilesSource (tar stream) on real files."""

from __future__ import annotations

import io
import os
import pwd
import shutil
import sqlite3
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tiation.backup.sources.files import FilesSource
from tiation.backup.sources.sqlite import SQLiteSource
from tiation.errors import BackupError

pytestmark = pytest.mark.integration


def _read_all(reader: object, chunk: int = 16384) -> bytes:
    parts = []
    while data := reader.read(chunk):  # type: ignore[attr-defined]
        parts.append(data)
    return b"".join(parts)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where tempfile puts things during the test, so leftovers can be seen."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


# ---------------------------------------------------------------- SQLite


def _count(path: Path) -> int:
    with sqlite3.connect(path, timeout=30) as conn:
        n = int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    conn.close()
    return n


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_sqlite_copy_is_consistent_while_writing(tmp_path: Path, private_tmp: Path, journal: str) -> None:
    db = tmp_path / "app.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA journal_mode={journal}")
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    conn.executemany(
        "INSERT INTO events (body) VALUES (?)", [(f"seed ünïcode {i} " * 20,) for i in range(5000)]
    )
    conn.commit()
    conn.close()

    stop = threading.Event()
    written = [0]

    def writer() -> None:
        wconn = sqlite3.connect(db, timeout=30)
        try:
            while not stop.is_set():
                wconn.execute("INSERT INTO events (body) VALUES (?)", ("live row " * 30,))
                wconn.commit()
                written[0] += 1
        finally:
            wconn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 20:
            time.sleep(0.001)
        before = _count(db)
        reader = SQLiteSource(db).open()
        after_open = _count(db)
        while written[0] < after_open - 5000 + 20:  # keep writing after the copy was taken
            time.sleep(0.001)
    finally:
        stop.set()
        thread.join()
    data = _read_all(reader)
    info = reader.close()
    after = _count(db)
    assert after > before  # the writer really ran around the backup

    copy = tmp_path / "copy.db"
    copy.write_bytes(data)
    with sqlite3.connect(copy) as cconn:
        assert cconn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        copied = int(cconn.execute("SELECT count(*) FROM events").fetchone()[0])
    cconn.close()
    assert before <= copied <= after_open <= after

    assert info.kind == "sqlite" and info.format == "sqlite-db"
    assert info.details["integrity_check"] == "ok"
    assert info.details["size"] == len(data)
    assert info.details["page_count"] * info.details["page_size"] == len(data)
    assert info.details["sqlite_version"] == sqlite3.sqlite_version
    assert list(private_tmp.iterdir()) == []  # the temp copy is gone


def test_sqlite_missing_and_not_sqlite(tmp_path: Path, private_tmp: Path) -> None:
    with pytest.raises(BackupError, match=r"^SQLite database .*nope\.db does not exist$"):
        SQLiteSource(tmp_path / "nope.db").open()
    text = tmp_path / "notes.db"
    text.write_text("just some text, long enough to have a header\n")
    with pytest.raises(BackupError, match=r"notes\.db is not an SQLite database$"):
        SQLiteSource(text).open()
    with pytest.raises(BackupError, match="is a directory"):
        SQLiteSource(tmp_path).open()
    assert list(private_tmp.iterdir()) == []


def test_sqlite_abort_removes_copy(tmp_path: Path, private_tmp: Path) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    reader = SQLiteSource(db).open()
    assert len(list(private_tmp.iterdir())) == 1
    reader.read(100)
    reader.abort()
    assert list(private_tmp.iterdir()) == []
    with pytest.raises(BackupError, match="aborted"):
        reader.close()


# ---------------------------------------------------------------- files


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """site/{index.html, data/ünïcode.txt, data/empty, link -> index.html, dangling -> missing}"""
    root = tmp_path / "site"
    (root / "data" / "deep").mkdir(parents=True)
    (root / "index.html").write_text("<h1>hello</h1>\n")
    (root / "data" / "ünïcode.txt").write_text("Zoë ☕\n" * 1000)
    (root / "data" / "empty").write_bytes(b"")
    (root / "data" / "deep" / "blob.bin").write_bytes(os.urandom(300_000))
    (root / "link").symlink_to("index.html")
    (root / "dangling").symlink_to("missing-target")
    return root


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return {m.name: m for m in tar.getmembers()}


def test_files_round_trip(tree: Path, tmp_path: Path) -> None:
    extra = tmp_path / "settings.conf"
    extra.write_text("a = 1\n")
    reader = FilesSource([tree, extra]).open()
    data = _read_all(reader)
    info = reader.close()
    members = _members(data)
    assert set(members) == {
        "site",
        "site/index.html",
        "site/data",
        "site/data/ünïcode.txt",
        "site/data/empty",
        "site/data/deep",
        "site/data/deep/blob.bin",
        "site/link",
        "site/dangling",
        "settings.conf",
    }
    assert members["site/link"].issym() and members["site/link"].linkname == "index.html"
    assert members["site/dangling"].issym() and members["site/dangling"].linkname == "missing-target"
    out = tmp_path / "out"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        tar.extractall(out, filter="tar")
    for rel in ("index.html", "data/ünïcode.txt", "data/empty", "data/deep/blob.bin"):
        assert (out / "site" / rel).read_bytes() == (tree / rel).read_bytes()
    assert (out / "site" / "link").is_symlink() and os.readlink(out / "site" / "link") == "index.html"
    assert (out / "settings.conf").read_text() == "a = 1\n"

    assert info.kind == "files" and info.format == "tar"
    sizes = [p.stat().st_size for p in tree.rglob("*") if p.is_file() and not p.is_symlink()]
    assert info.details["file_count"] == len(sizes) + 1
    assert info.details["total_bytes"] == sum(sizes) + len("a = 1\n")
    assert info.details["symlink_count"] == 2


def test_files_names_relative_to_base(tree: Path) -> None:
    reader = FilesSource([tree / "data", tree / "index.html"], base=tree).open()
    members = _members(_read_all(reader))
    reader.close()
    assert "data/deep/blob.bin" in members and "index.html" in members
    assert not any(name.startswith("/") or name.startswith("site") for name in members)
    with pytest.raises(BackupError, match="not inside the base directory"):
        FilesSource([tree], base=tree / "data").open()


def test_files_missing_path_fails_at_open(tree: Path) -> None:
    with pytest.raises(BackupError, match=r"^cannot read .*/site/nope: No such file or directory$"):
        FilesSource([tree / "index.html", tree / "nope"]).open()


def test_files_vanished_file_fails_close(tmp_path: Path) -> None:
    root = tmp_path / "d"
    root.mkdir()
    (root / "a_big").write_bytes(os.urandom(1_000_000))  # the producer blocks on the pipe while writing it
    (root / "b_small").write_text("gone soon\n")
    reader = FilesSource([root]).open()
    assert reader.read(1)  # the directory has been listed: the producer is inside a_big
    (root / "b_small").unlink()
    _read_all(reader)
    with pytest.raises(BackupError) as err:
        reader.close()
    assert str(err.value) == f"cannot read {root / 'b_small'}: No such file or directory"


def _producer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tiation-files-tar"]


def test_files_abort_stops_producer(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(os.urandom(2_000_000))
    reader = FilesSource([big]).open()
    assert reader.read(1000)
    reader.abort()
    assert _producer_threads() == []
    with pytest.raises(BackupError):
        reader.close()


def _unreadable_as_nobody(paths: list[Path]) -> str:
    """Run FilesSource over `paths` in a forked child that dropped root for `nobody`; its error message."""
    nobody = pwd.getpwnam("nobody")
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 3
        try:
            os.close(rfd)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            reader = FilesSource(paths).open()
            _read_all(reader)
            reader.close()
            os.write(wfd, b"no error")
        except BackupError as exc:
            os.write(wfd, str(exc).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as fh:
        message = fh.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, message
    return message


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory `nobody` can traverse (pytest's tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="tiation-files-"))
    d.chmod(0o755)
    yield d
    for p in d.rglob("*"):
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(d)


def test_files_unreadable_file_and_directory(shared_dir: Path) -> None:
    (shared_dir / "ok.txt").write_text("fine\n")
    secret = shared_dir / "secret.txt"
    secret.write_text("no\n")
    secret.chmod(0o000)
    locked = shared_dir / "locked"
    locked.mkdir()
    (locked / "inside").write_text("x\n")
    locked.chmod(0o000)

    def run(paths: list[Path]) -> str:
        if os.geteuid() != 0:
            with pytest.raises(BackupError) as err:
                reader = FilesSource(paths).open()
                _read_all(reader)
                reader.close()
            return str(err.value)
        return _unreadable_as_nobody(paths)

    assert run([shared_dir / "ok.txt", secret]) == f"cannot read {secret}: Permission denied"
    assert run([locked]) == f"cannot read {locked}: Permission denied"
