"""The backup pillar's entry point: run, list, verify, pin, prune and rebuild the catalog, from the platform file.

Storage is the truth (a backup exists when its manifest does); the state store's catalog is an index of it that
`rebuild_catalog` can recreate from the manifests alone. Every operation writes an audit event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tiation.backup.manifest import Manifest, from_catalog, manifest_key
from tiation.backup.retention import BackupFacts, RetentionDecision, RetentionPolicy, decide_retention
from tiation.backup.sources.base import Source
from tiation.backup.stores.base import Store
from tiation.clock import Clock
from tiation.config.backups import Backup
from tiation.config.loader import LoadedPlatform
from tiation.errors import BackupError, IntegrityError, UsageError, unknown_name

if TYPE_CHECKING:
    from tiation.state import BackupRow, StateStore, UnitOfWork

_log = logging.getLogger(__name__)


LATEST = "latest"
"""The backup id that means the newest backup in the catalog (`NAME@latest`: the newest of NAME)."""


class BackupService:
    """Backups of one platform file, recorded in one state store.

    `state` may be given as a function that opens the store: `run` then opens it on a thread of its own while
    the backup already streams, so opening (and importing) the store costs the backup no time.
    """

    def __init__(
        self,
        loaded: LoadedPlatform,
        state: StateStore | Callable[[], StateStore],
        clock: Clock,
        actor: str,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.loaded = loaded
        self.clock = clock
        self.actor = actor
        self.progress = progress
        self._stores: dict[str, Store] = {}
        self.removed_orphans: list[str] = []  # what the last run's start-up cleanup removed
        self._state: StateStore | None = None
        self._opener: Callable[[], StateStore] | None = None
        self._state_lock = threading.Lock()
        if callable(state) and not hasattr(state, "audit"):
            self._opener = state
        else:
            self._state = state  # type: ignore[assignment]

    @property
    def state(self) -> StateStore:
        """The state store (opened on first use when given as an opener)."""
        with self._state_lock:
            if self._state is None:
                assert self._opener is not None
                self._state = self._opener()
            return self._state

    # -- configuration -> objects ------------------------------------------------------------------------------
    def backup_config(self, name: str) -> Backup:
        """The named backup's settings, or a one-line UsageError."""
        backups = self.loaded.platform.backups
        if name not in backups:
            raise unknown_name("backup", name, backups)
        return backups[name]

    def storage(self, name: str) -> Store:
        """The named storage as a Store (built once)."""
        if name in self._stores:
            return self._stores[name]
        cfg = self.loaded.platform.storage.get(name)
        if cfg is None:
            raise unknown_name("storage", name, self.loaded.platform.storage)
        root = self.loaded.root
        store: Store
        if cfg.dir is not None:
            from tiation.backup.stores.dir import DirStore

            store = DirStore(root / cfg.dir.path, name=name)
        else:
            from tiation.backup.stores.s3 import S3Store

            s3 = cfg.s3
            assert s3 is not None
            store = S3Store(
                name,
                bucket=s3.bucket,
                prefix=s3.prefix,
                endpoint_url=s3.endpoint,
                region=s3.region,
                access_key=s3.access_key,  # plain, or a SecretRef since load
                secret_key=s3.secret_key,
                abort_uploads_after=s3.abort_uploads_after,
            )
        self._stores[name] = store
        return store

    def source(self, name: str) -> Source:
        """The named backup's source (built by the plug-in of its kind)."""
        from tiation.backup.sources import build_source

        return build_source(self.backup_config(name).source, self.loaded.root)

    # -- operations -------------------------------------------------------------------------------------------
    def run(self, name: str) -> Manifest:
        """Take a backup now; it is listed only once its manifest is written (last)."""
        from tiation.backup.pipeline import run_backup

        cfg = self.backup_config(name)
        store = self.storage(cfg.storage)
        recipients = list(cfg.encryption.recipients) if cfg.encryption else []
        started: list[BaseException] = []

        def audit_start() -> None:  # on a thread: opening the store overlaps the backup's first seconds
            try:
                with self.state.write("write the audit log") as uow:
                    uow.audit.record(
                        actor=self.actor,
                        action="backup.start",
                        details={"backup": name, "storage": cfg.storage},
                    )
            except BaseException as exc:
                started.append(exc)

        opener = threading.Thread(target=audit_start, name="tiation-backup-state", daemon=True)
        opener.start()
        try:
            store.cleanup()  # partial writes of runs that were killed
            self.removed_orphans = self.sweep_orphans(name)  # and objects whose manifest they never wrote
            manifest = run_backup(
                self.source(name),
                store,
                name=name,
                recipients=recipients,
                clock=self.clock,
                progress=self.progress,
            )
        except BackupError as exc:
            opener.join()
            if not started:
                with self.state.write("write the audit log") as uow:
                    uow.audit.record(
                        actor=self.actor, action="backup.failed", details={"backup": name, "error": str(exc)}
                    )
            raise
        finally:
            opener.join()
        if started:  # the backup is complete in storage; `catalog rebuild` can index it once the store works
            raise started[0]
        with self.state.write("record a backup") as uow:
            _record(uow, manifest, cfg.storage)
            uow.audit.record(
                actor=self.actor,
                action="backup.succeeded",
                details={
                    "backup": name,
                    "id": manifest.backup_id,
                    "stored_bytes": manifest.sizes.stored_bytes,
                },
            )
        return manifest

    def get(self, backup_id: str) -> BackupRow:
        """A catalogued backup by id or unique prefix, or a one-line UsageError.

        `latest` is the newest backup in the catalog, `NAME@latest` the newest of backup NAME.
        """
        if backup_id == LATEST or backup_id.endswith("@" + LATEST):
            return self.latest(backup_id[: -len(LATEST) - 1] or None)
        with self.state.read("read a backup") as uow:
            row = uow.backups.get(backup_id)
        if row is None:
            raise UsageError(
                f"no backup {backup_id!r} in the catalog (try: tiation backup catalog rebuild NAME)"
            )
        return row

    def latest(self, name: str | None = None) -> BackupRow:
        """The newest catalogued backup (of backup `name`, when given), or a one-line UsageError."""
        if name is not None:
            self.backup_config(name)
        with self.state.read("find the newest backup") as uow:
            rows = uow.backups.find(name=name)
        if not rows:
            of = f" of {name}" if name else ""
            raise UsageError(f"no backups{of} in the catalog yet (run: tiation backup run {name or 'NAME'})")
        return rows[0]

    def verify(self, backup_id: str) -> BackupRow:
        """Re-read the stored object and check size and SHA-256 against the manifest; record the result."""
        from tiation.backup.verify import verify_backup

        row = self.get(backup_id)
        try:
            result = verify_backup(self.storage(row.storage), row.id, from_catalog(row.manifest))
        except IntegrityError as exc:
            self.record_verify(row.id, ok=False, detail=str(exc), audit={"error": str(exc)})
            raise
        detail = "size and sha256 match the manifest" + (
            "" if result.protected else "; manifest unprotected (older format)"
        )
        self.record_verify(row.id, ok=True, detail=detail)
        return self.get(row.id)

    def record_verify(
        self, backup_id: str, *, ok: bool, detail: str, audit: Mapping[str, object] | None = None
    ) -> None:
        """Store a verify result on the backup and audit it (`audit`: more details), in one transaction."""
        action = "backup.verify.passed" if ok else "backup.verify.failed"
        with self.state.write("record a verify") as uow:
            uow.backups.set_verified(backup_id, ok=ok, detail=detail)
            uow.audit.record(actor=self.actor, action=action, details={"id": backup_id, **(audit or {})})

    def pin(self, backup_id: str, *, pinned: bool = True) -> BackupRow:
        """Pin a backup (retention never deletes it) or unpin it."""
        row = self.get(backup_id)
        with self.state.write("pin a backup") as uow:
            uow.backups.set_pinned(row.id, pinned)
            uow.audit.record(
                actor=self.actor, action="backup.pin" if pinned else "backup.unpin", details={"id": row.id}
            )
        return self.get(row.id)

    def plan_prune(self, name: str, *, force: bool = False) -> RetentionDecision:
        """What retention would delete now, and why each backup stays (pure decision over the catalog)."""
        cfg = self.backup_config(name)
        r = cfg.retention
        policy = RetentionPolicy(
            keep_last=r.keep_last,
            hourly=r.hourly,
            daily=r.daily,
            weekly=r.weekly,
            monthly=r.monthly,
            yearly=r.yearly,
            max_age=r.max_age,
            min_keep=r.min_keep,
            max_delete_share=r.max_delete_share,
            timezone=r.timezone,
        )
        with self.state.read("list backups") as uow:
            rows = uow.backups.find(name=name)
        facts = [BackupFacts(b.id, b.finished_at, b.verified, pinned=b.pinned, size=b.size) for b in rows]
        return decide_retention(facts, policy, now=self.clock.now(), force=force)

    def prune(self, name: str, *, force: bool = False) -> RetentionDecision:
        """Delete what retention allows: the manifest first (the backup stops being listed), then the data."""
        decision = self.plan_prune(name, force=force)
        for backup_id, why in sorted(decision.delete.items()):
            row = self.get(backup_id)
            store = self.storage(row.storage)
            store.delete(manifest_key(backup_id))
            store.delete(f"{backup_id}/{row.manifest.get('data_object', '')}")
            with self.state.write("forget a backup") as uow:
                uow.backups.forget(backup_id)
                uow.audit.record(
                    actor=self.actor, action="backup.delete", details={"id": backup_id, "why": why}
                )
        return decision

    def sweep_orphans(self, name: str, *, dry_run: bool = False) -> list[str]:
        """Remove (or with `dry_run` only list) objects of `name`'s backups that have no manifest and are older
        than the storage's `orphan_grace`; each removal is audited and logged."""
        from tiation.backup.orphans import find_orphans, remove_orphans

        cfg = self.backup_config(name)
        store = self.storage(cfg.storage)
        grace = self.loaded.platform.storage[cfg.storage].orphan_grace
        orphans = find_orphans(store, name=name, now=self.clock.now(), grace=grace)
        if dry_run:
            return [o.key for o in orphans]
        removed = remove_orphans(store, orphans)
        for key in removed:
            _log.warning(
                "storage %s: removed %s: no manifest (a killed run), older than %s", cfg.storage, key, grace
            )
            with self.state.write("record an orphan's removal") as uow:
                uow.audit.record(
                    actor=self.actor,
                    action="backup.orphan.delete",
                    details={"key": key, "storage": cfg.storage},
                )
        return removed

    def rebuild_catalog(self, name: str) -> dict[str, int]:
        """Recreate the catalog of backup `name` from the manifests in its storage alone."""
        from tiation.backup.verify import list_backups

        cfg = self.backup_config(name)
        found = [m for m in list_backups(self.storage(cfg.storage)) if m.name == name]
        ids = {m.backup_id for m in found}
        with self.state.write("rebuild the backup catalog") as uow:
            for manifest in found:
                _record(uow, manifest, cfg.storage)
            gone = [b.id for b in uow.backups.find(name=name) if b.id not in ids]
            for backup_id in gone:
                uow.backups.forget(backup_id)
            uow.audit.record(
                actor=self.actor,
                action="backup.catalog.rebuild",
                details={"backup": name, "found": len(found), "forgotten": len(gone)},
            )
        return {"found": len(found), "forgotten": len(gone)}


def _record(uow: UnitOfWork, manifest: Manifest, storage: str) -> None:
    """Index a backup whose manifest is in storage (inside the caller's unit of work)."""
    uow.backups.record(
        backup_id=manifest.backup_id,
        name=manifest.name,
        storage=storage,
        started_at=manifest.started_at,
        finished_at=manifest.finished_at,
        size=manifest.sizes.stored_bytes,
        sha256=manifest.stored_sha256,
        manifest=manifest.model_dump(mode="json"),
    )


def describe(row: BackupRow) -> dict[str, Any]:
    """A catalog row as JSON-able data."""
    return {
        "id": row.id,
        "name": row.name,
        "storage": row.storage,
        "started_at": row.started_at.isoformat(),
        "finished_at": row.finished_at.isoformat(),
        "size": row.size,
        "sha256": row.sha256,
        "pinned": row.pinned,
        "verified": row.verified,
        "verified_at": row.verified_at.isoformat() if row.verified_at else None,
        "verify_detail": row.verify_detail,
    }
