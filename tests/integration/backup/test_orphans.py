"""Objects a killed run left without a manifest are found and removed once older than the grace period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fixtures.backup_kit import TextSource, orphan_scenario
from tiation.backup.orphans import find_orphans, remove_orphans
from tiation.backup.pipeline import run_backup
from tiation.backup.stores.dir import DirStore
from tiation.clock import SystemClock

KB = 1 << 10
HOUR = timedelta(hours=1)


def test_dir_store_orphans(tmp_path: Path) -> None:
    orphan_scenario(DirStore(tmp_path / "store"))


def test_an_orphan_whose_manifest_appears_is_kept(tmp_path: Path) -> None:
    store = DirStore(tmp_path / "store")
    done = run_backup(TextSource(64 * KB), store, name="app", recipients=[], clock=SystemClock())
    manifest = b"".join(store.get_stream(done.manifest_key))
    store.delete(done.manifest_key)
    found = find_orphans(store, name="app", now=datetime.now(UTC) + 2 * HOUR, grace=HOUR)
    store.put_stream(
        done.manifest_key, [manifest]
    )  # the backup completed between the listing and the removal
    assert remove_orphans(store, found) == []
    assert store.stat(done.data_key) is not None
