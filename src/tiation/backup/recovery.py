"""Restores and restore drills of catalogued backups (the platform file says where each source lives)."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tiation.backup.manifest import from_catalog
from tiation.backup.service import BackupService
from tiation.backup.sources.base import Source
from tiation.backup.stores.base import Store
from tiation.errors import BackupError
from tiation.records import record_dict
from tiation.state import BackupRow, DrillRow


@dataclass(frozen=True)
class RestoreResult:
    """Where a backup was restored, what was checked, and how long each phase took."""

    backup_id: str
    kind: str
    target: str
    restored_bytes: int
    checks: tuple[str, ...]
    phases: dict[str, float] = field(default_factory=dict)
    replaced: str | None = None  # where the previous live database was moved (with --replace)
    manifest: str = ""  # how the manifest was protected, e.g. "unprotected (older format)"
    interrupted: tuple[str, ...] = ()  # earlier restores found interrupted (and cleaned up) before this one

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return record_dict(self)


Progress = Callable[[int, int], None]
"""Called with (bytes restored so far, total bytes) as a restore streams."""


class _Timed:
    """An iterator wrapper that adds up the time spent waiting for each next item (and reports progress)."""

    def __init__(self, inner: Iterator[bytes], progress: Progress | None = None, total: int = 0) -> None:
        self.inner, self.waited = inner, 0.0
        self.progress, self.total, self.done = progress, total, 0

    def __iter__(self) -> Iterator[bytes]:
        while True:
            t = time.monotonic()
            try:
                chunk = next(self.inner)
            except StopIteration:
                self.waited += time.monotonic() - t
                return
            self.waited += time.monotonic() - t
            self.done += len(chunk)
            if self.progress is not None:
                self.progress(self.done, self.total)
            yield chunk


class _TimedStore:
    """A Store proxy that times reads of stored objects (the drill's fetch phase)."""

    def __init__(self, inner: Store) -> None:
        self.inner, self.fetch = inner, 0.0
        self.name = inner.name

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        timed = _Timed(self.inner.get_stream(key, chunk_size=chunk_size))
        try:
            yield from timed
        finally:
            self.fetch += timed.waited

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)


def identities_for(service: BackupService, name: str, given: list[str]) -> list[str]:
    """age identities: those given (file contents), else the backup's configured `encryption.identity`."""
    keys = [
        line.strip()
        for text in given
        for line in text.splitlines()
        if line.strip().startswith("AGE-SECRET-KEY-")
    ]
    if keys:
        return keys
    enc = service.backup_config(name).encryption
    if enc is not None and enc.identity is not None:
        text = enc.identity.reveal()
        return [line.strip() for line in text.splitlines() if line.strip().startswith("AGE-SECRET-KEY-")]
    return []


def restore(
    service: BackupService,
    backup_id: str,
    *,
    to: str | None,
    replace: bool,
    identities: list[str],
    progress: Progress | None = None,
) -> RestoreResult:
    """Restore into a new database/file/directory, run the checks, and with `replace` swap it in.

    The restore is recorded as it starts; interrupted earlier ones are cleaned up first (`restores.reap`).
    """
    from tiation.backup import restores

    row = service.get(backup_id)
    cleaned = tuple(restores.reap(service))
    suffix = service.clock.now().strftime("%Y%m%d%H%M%S")
    target = _source_of(service, row).restore_target(to, suffix)
    token = restores.begin(service, row.id, row.name, target)
    try:
        result = _restore_into(
            service, row, to=target, suffix=suffix, identities=identities, progress=progress
        )
        if replace:
            result = _swap(service, row, result, suffix)
    except BaseException as exc:
        error = exc.message if isinstance(exc, BackupError) else type(exc).__name__
        # the restore's own error is what the caller must see
        with contextlib.suppress(Exception), service.state.write("record a failed restore") as uow:
            uow.audit.record(
                actor=service.actor, action=restores.FAILED, details={"restore": token, "error": error}
            )
        raise
    result = RestoreResult(**{**result.__dict__, "interrupted": cleaned})
    with service.state.write("record a restore") as uow:
        uow.audit.record(
            actor=service.actor, action=restores.DONE, details={**result.to_dict(), "restore": token}
        )
    return result


def _restore_into(
    service: BackupService,
    row: BackupRow,
    *,
    to: str | None,
    suffix: str,
    identities: list[str],
    progress: Progress | None = None,
    source: Source | None = None,
) -> RestoreResult:
    """Restore `row` into a new target (`to`, else the source's default) and run the configured checks."""
    from tiation.backup.verify import restore_stream

    cfg = service.backup_config(row.name)
    source = source or _source_of(service, row)
    keys = identities_for(service, row.name, identities)
    if row.manifest.get("encryption", {}).get("recipients") and not keys:
        raise BackupError(
            f"backup {row.id} is encrypted: give an age identity with -i FILE, "
            f"or set backups.{row.name}.encryption.identity"
        )
    store = _TimedStore(service.storage(row.storage))
    total = int(row.manifest.get("sizes", {}).get("source_bytes", 0))
    target = source.restore_target(to, suffix)
    try:  # the object's SHA-256, the catalog's copy and the seal are checked before the target is touched
        stream = restore_stream(store, row.id, keys, expected=from_catalog(row.manifest))
        first = next(stream, b"")
    except BackupError as exc:
        raise _noted(exc, f"nothing was written to {target}") from None
    timed = _Timed(itertools.chain([first], stream), progress, total)
    t0 = time.monotonic()
    try:
        restored = source.restore(iter(timed), target, row.manifest.get("source", {}))
    except BackupError as exc:
        if not timed.done:
            raise  # refused before reading (e.g. the target exists): nothing of ours to remove
        raise _noted(exc, f"the partial restore into {target} was removed") from None
    finally:
        getattr(stream, "close", lambda: None)()  # stops the decryption thread if the restore stopped early
    t1 = time.monotonic()
    checks = [*restored.notes, *source.check(target, cfg.verify)]
    t2 = time.monotonic()
    # Measured where each happens; in a streamed restore they overlap, so they need not add up to the total.
    phases = {
        "fetch_s": round(store.fetch, 3),  # reading the stored object
        "decrypt_decompress_s": round(max(0.0, timed.waited - store.fetch), 3),  # what the loader waited for
        "restore_s": round(t1 - t0, 3),  # the streamed restore into the new database/file, start to end
        "verify_s": round(t2 - t1, 3),
        "total_s": round(t2 - t0, 3),
    }
    return RestoreResult(
        row.id, source.kind, target, restored.written, tuple(checks), phases, manifest=_manifest_note(row)
    )


def _noted(exc: BackupError, note: str) -> BackupError:
    """`exc` (same class, hint and retryability) with `note` appended to its one line."""
    return type(exc)(f"{exc.message}; {note}", hint=exc.hint, retryable=exc.retryable)


def _manifest_note(row: BackupRow) -> str:
    """How well the manifest is protected (said once the restore got through its checks)."""
    manifest = from_catalog(row.manifest)
    if manifest is None or not manifest.protected:
        return "manifest unprotected (older format)"
    return (
        "manifest matches its sealed copy"
        if manifest.seal
        else "manifest checksum ok (not encrypted: no seal)"
    )


def _source_of(service: BackupService, row: BackupRow) -> Source:
    """The configured source of `row`'s backup, which must be of the kind the backup was taken from."""
    source = service.source(row.name)
    kind = str(row.manifest.get("source", {}).get("kind"))
    if kind != source.kind:
        raise BackupError(
            f"backup {row.id} was taken from a {kind} source, but backups.{row.name}.source is {source.kind}"
        )
    return source


def _swap(service: BackupService, row: BackupRow, result: RestoreResult, suffix: str) -> RestoreResult:
    aside = _source_of(service, row).replace(result.target, suffix)
    return RestoreResult(**{**result.__dict__, "replaced": aside})


def _scratch_restore(
    service: BackupService, row: BackupRow, identities: list[str], suffix: str
) -> RestoreResult:
    """Restore `row` into a throwaway target, run the checks, and remove the target again."""
    source = _source_of(service, row)
    with source.scratch(row.name, suffix) as to:
        return _restore_into(service, row, to=to, suffix=suffix, identities=identities, source=source)


def verify_by_restore(service: BackupService, backup_id: str, *, identities: list[str]) -> RestoreResult:
    """`verify --restore`: restore into a scratch target and run the checks; the result is recorded."""
    row = service.get(backup_id)
    try:
        result = _scratch_restore(service, row, identities, service.clock.now().strftime("%Y%m%d%H%M%S"))
    except BackupError as exc:
        service.record_verify(row.id, ok=False, detail=str(exc), audit={"error": str(exc)})
        raise
    detail = "restored into a scratch target; " + "; ".join([*result.checks, f"manifest {result.manifest}"])
    service.record_verify(row.id, ok=True, detail=detail, audit={"restore": True})
    return result


def drill(
    service: BackupService, name: str, *, identities: list[str]
) -> tuple[DrillRow, RestoreResult | None]:
    """Restore the newest backup of `name` into a scratch target, check it, time it against the RTO objective."""
    cfg = service.backup_config(name)
    with service.state.read("list backups") as uow:
        candidates = [b for b in uow.backups.find(name=name) if b.verified is not False]
    if not candidates:
        raise BackupError(f"no backup of {name} to drill (none, or every one failed verify)")
    row = candidates[0]
    objective = service.loaded.platform.objectives.tiers.get(cfg.tier) if cfg.tier else None
    objective_s = objective.rto.total_seconds() if objective else None
    started = service.clock.now()
    t0 = time.monotonic()
    result: RestoreResult | None = None
    detail = ""
    try:
        result = _scratch_restore(service, row, identities, started.strftime("%Y%m%d%H%M%S"))
    except BackupError as exc:
        detail = str(exc)
    rto = time.monotonic() - t0
    ok = result is not None and (objective_s is None or rto <= objective_s)
    if result is not None:
        within = "no objective" if objective_s is None else f"objective {objective_s:g}s"
        detail = f"restored {row.id} in {rto:.1f}s ({within}); " + "; ".join(result.checks)
    with service.state.write("record a drill") as uow:
        drill_id = uow.drills.record(
            name=name,
            backup_id=row.id,
            started_at=started,
            passed=ok,
            rto_s=round(rto, 3),
            objective_s=objective_s,
            phases=result.phases if result else {},
            detail=detail,
        )
        uow.audit.record(actor=service.actor, action="backup.drill", details={"id": drill_id, "passed": ok})
        drills = uow.drills.recent(name=name, limit=1)
    return drills[0], result
