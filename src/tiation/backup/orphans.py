"""Objects of backups that never got their manifest: a run killed between storing the data and writing
manifest.json leaves a full-size object that nothing lists, so nothing (retention, the catalog) would ever
delete it. `find_orphans` finds them — keys under a backup id with no manifest, older than a grace period
(younger ones may belong to a backup finishing right now) — and `remove_orphans` deletes them, re-checking
each backup's manifest just before (it may have appeared meanwhile).

On S3 an object's last-modified time can be when its multipart upload *started*, so a grace shorter than a
backup's upload could still race its final moments; the pipeline therefore checks, after writing the
manifest, that its data object is still there (and fails the backup otherwise).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tiation.backup.manifest import MANIFEST_NAME, is_backup_id, manifest_key
from tiation.backup.stores.base import ObjectStat, Store


def find_orphans(store: Store, *, name: str | None, now: datetime, grace: timedelta) -> list[ObjectStat]:
    """Objects of backups (of `name`, or of any backup) that have no manifest and are older than `grace`."""
    stats = store.list()
    listed = {s.key.partition("/")[0] for s in stats if s.key.partition("/")[2] == MANIFEST_NAME}
    cutoff = now - grace
    found = []
    for stat in stats:
        backup_id = stat.key.partition("/")[0]
        if backup_id in listed or not is_backup_id(backup_id) or stat.modified > cutoff:
            continue
        if name is None or _name_of(stat.key) == name:
            found.append(stat)
    return found


def _name_of(key: str) -> str:
    """The backup name in an object key `<name>-<timestamp>-<hex>/…`."""
    return key.partition("/")[0].rsplit("-", 2)[0]


def remove_orphans(store: Store, orphans: list[ObjectStat]) -> list[str]:
    """Delete the orphans whose backup still has no manifest; return the keys deleted."""
    removed = []
    for stat in orphans:
        if store.stat(manifest_key(stat.key.partition("/")[0])) is not None:
            continue  # the backup completed after all
        store.delete(stat.key)
        removed.append(stat.key)
    return removed
