"""Least privilege on disk: tiation's directory 0700, the state DB (and its WAL/SHM), logs and the debug log 0600,
whatever the umask (issue 11)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tiation.cli.errors import run_guarded
from tiation.clock import FakeClock
from tiation.private import open_private_append, private_dir, private_file
from tiation.state import StateStore, default_state_url


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_helpers_set_the_modes_whatever_the_umask(tmp_path: Path) -> None:
    os.umask(0o000)
    assert _mode(private_dir(tmp_path / "a" / ".tiation")) == 0o700
    existing = tmp_path / "wide.log"
    existing.write_text("kept\n")
    existing.chmod(0o666)
    assert _mode(private_file(existing)) == 0o600 and existing.read_text() == "kept\n"
    with open_private_append(tmp_path / "new.log") as fh:
        fh.write(b"x\n")
    assert _mode(tmp_path / "new.log") == 0o600


def test_the_state_directory_database_wal_and_shm_are_private(tmp_path: Path, fake_clock: FakeClock) -> None:
    with StateStore.open(default_state_url(tmp_path), clock=fake_clock) as store:
        with store.write() as uow:
            uow.leases.all()
        state = tmp_path / ".tiation"
        assert _mode(state) == 0o700
        files = sorted(state.glob("state.db*"))
        assert {p.name for p in files} >= {"state.db", "state.db-wal", "state.db-shm"}
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_an_existing_world_readable_database_is_narrowed(tmp_path: Path, fake_clock: FakeClock) -> None:
    with StateStore.open(default_state_url(tmp_path), clock=fake_clock):
        pass
    (tmp_path / ".tiation").chmod(0o755)
    (tmp_path / ".tiation" / "state.db").chmod(0o644)
    with StateStore.open(default_state_url(tmp_path), clock=fake_clock):
        pass
    assert _mode(tmp_path / ".tiation") == 0o700
    assert _mode(tmp_path / ".tiation" / "state.db") == 0o600


def test_a_directory_the_user_named_is_left_alone(tmp_path: Path, fake_clock: FakeClock) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    with StateStore.open(f"sqlite:///{shared}/tiation.db", clock=fake_clock):
        pass
    assert _mode(shared) == 0o755 and _mode(shared / "tiation.db") == 0o600


def test_the_debug_log_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIATION_FILE", str(tmp_path / "tiation.yaml"))

    def bug() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(SystemExit) as exit_info:
        run_guarded(bug, ["tiation", "status"])
    assert exit_info.value.code == 70
    assert _mode(tmp_path / ".tiation") == 0o700
    assert _mode(tmp_path / ".tiation" / "debug.log") == 0o600
