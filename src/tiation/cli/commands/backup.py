"""`tiation backup …`: run, list, show, verify, pin/unpin, prune, catalog rebuild, metrics."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import click

from tiation.cli.context import AppContext
from tiation.cli.output import Output, plural

if TYPE_CHECKING:
    from tiation.backup.recovery import RestoreResult


def _service(app: AppContext) -> Any:
    from tiation.backup.service import BackupService

    return BackupService(app.loaded(), app.store, app.clock, app.who())  # the store opens on first use


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


@click.group()
def backup() -> None:
    """Backups: streaming, compressed, encrypted to age keys, checksummed; retention with safety floors."""


@backup.command("run")
@click.argument("name")
@click.option("--json", "json_mode", is_flag=True, help="Print the manifest as JSON.")
@click.pass_obj
def run(app: AppContext, name: str, json_mode: bool) -> None:
    """Take backup NAME now."""
    out = Output(json_mode=json_mode)
    service = _service(app)
    spinner = None
    if out.tty:
        spinner = out.console.status(f"backing up {name} …")
        spinner.start()
        service.progress = lambda done: spinner.update(f"backing up {name}: {_size(done)} read")
    try:
        manifest = service.run(name)
    finally:
        if spinner is not None:
            spinner.stop()
    out.data({**manifest.model_dump(mode="json"), "removed_orphans": service.removed_orphans})
    for key in service.removed_orphans:
        out.line(f"removed {key}: no manifest (left by a killed run)")
    s = manifest.sizes
    took = (manifest.finished_at - manifest.started_at).total_seconds()
    out.line(
        f"backup {manifest.backup_id}: {_size(s.source_bytes)} read, {_size(s.stored_bytes)} stored "
        f"in {took:.1f}s ({'encrypted' if manifest.encryption.recipients else 'not encrypted'})"
    )


@backup.command("list")
@click.argument("name", required=False)
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def list_(app: AppContext, name: str | None, json_mode: bool) -> None:
    """Backups in the catalog (of NAME), newest first."""
    from tiation.backup.service import describe

    out = Output(json_mode=json_mode)
    if name is not None:
        _service(app).backup_config(name)
    with app.store().read("list backups") as uow:
        rows = uow.backups.find(name=name)
    out.data({"backups": [describe(r) for r in rows]})
    if not rows:
        out.line("no backups" + (f" of {name}" if name else ""))
        return
    verified = {True: "ok", False: "FAILED", None: "-"}
    out.table(
        ["id", "finished", "storage", "size", "verified", "pinned"],
        [
            [
                r.id,
                f"{r.finished_at:%Y-%m-%d %H:%M:%S}",
                r.storage,
                _size(r.size),
                verified[r.verified],
                "yes" if r.pinned else "",
            ]
            for r in rows
        ],
    )


@backup.command("show")
@click.argument("backup_id")
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def show(app: AppContext, backup_id: str, json_mode: bool) -> None:
    """A backup's manifest: sizes, checksums, timings, source, recipients."""
    from tiation.backup.service import describe

    out = Output(json_mode=json_mode)
    row = _service(app).get(backup_id)
    out.data({**describe(row), "manifest": row.manifest})
    m = row.manifest
    out.line(f"backup {row.id} ({row.name}) in storage {row.storage}")
    out.line(f"finished {row.finished_at:%Y-%m-%d %H:%M:%S}Z, stored {_size(row.size)}, sha256 {row.sha256}")
    out.line(f"source: {m.get('source', {}).get('kind')} ({m.get('source', {}).get('format')})")
    recipients = m.get("encryption", {}).get("recipients") or []
    out.line(f"encrypted to: {', '.join(recipients) if recipients else 'nobody (not encrypted)'}")
    out.line(f"timings: {m.get('timings')}")
    if m.get("format_version", 1) < 2:
        out.line("manifest: unprotected (older format: no checksum, no seal)")
    else:
        out.line(f"manifest: checksummed{', sealed inside the encrypted data' if m.get('seal') else ''}")
    out.line(f"verified: {row.verified} {row.verify_detail or ''}".rstrip())


@backup.command("verify")
@click.argument("backup_id")
@click.option(
    "--restore", "by_restore", is_flag=True, help="Also restore into a scratch target and run the checks."
)
@click.option(
    "-i", "--identity", "identity", multiple=True, metavar="FILE", help="age identity file (repeatable)."
)
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def verify(
    app: AppContext, backup_id: str, by_restore: bool, identity: tuple[str, ...], json_mode: bool
) -> None:
    """Re-read BACKUP_ID from storage and check its size and SHA-256 against the manifest (--restore: and more).

    BACKUP_ID is an id, a unique prefix, `latest` (the newest backup) or `NAME@latest` (the newest of NAME).
    """
    from tiation.backup.service import describe

    out = Output(json_mode=json_mode)
    service = _service(app)
    row = service.verify(backup_id)
    if by_restore:
        from tiation.backup.recovery import verify_by_restore

        result = verify_by_restore(service, row.id, identities=_identities(identity))
        row = service.get(row.id)
        out.data({**describe(row), "restore": result.to_dict()})
    else:
        out.data(describe(row))
    out.line(f"backup {row.id}: {row.verify_detail}")


@backup.command("pin")
@click.argument("backup_id")
@click.option("--unpin", is_flag=True, help="Remove the pin instead.")
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def pin(app: AppContext, backup_id: str, unpin: bool, json_mode: bool) -> None:
    """Pin BACKUP_ID so that retention never deletes it (or --unpin)."""
    from tiation.backup.service import describe

    out = Output(json_mode=json_mode)
    row = _service(app).pin(backup_id, pinned=not unpin)
    out.data(describe(row))
    out.line(f"backup {row.id} {'pinned' if row.pinned else 'unpinned'}")


@backup.command("prune")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Say what would go and why each backup stays; delete nothing.")
@click.option("--force", is_flag=True, help="Allow deleting more than retention.max_delete_share in one run.")
@click.option("--json", "json_mode", is_flag=True, help="Print the decision as JSON.")
@click.pass_obj
def prune(app: AppContext, name: str, dry_run: bool, force: bool, json_mode: bool) -> int:
    """Apply NAME's retention: keep-last, daily/weekly/monthly, max age; floors always hold."""
    out = Output(json_mode=json_mode)
    service = _service(app)
    decision = service.plan_prune(name, force=force) if dry_run else service.prune(name, force=force)
    orphans = service.sweep_orphans(name, dry_run=dry_run)
    out.data(
        {
            "dry_run": dry_run,
            "keep": {k: list(v) for k, v in decision.keep.items()},
            "delete": decision.delete,
            "refused": decision.refused,
            "orphans": orphans,
        }
    )
    for key in orphans:
        out.line(f"{'would remove' if dry_run else 'removed'} {key}: no manifest (left by a killed run)")
    for backup_id, reasons in sorted(decision.keep.items()):
        out.line(f"keep    {backup_id}: {'; '.join(reasons)}")
    for backup_id, why in sorted(decision.delete.items()):
        out.line(f"{'would delete' if dry_run else 'deleted'} {backup_id}: {why}")
    if decision.refused:
        print(f"error: {decision.refused}", file=sys.stderr)
        return 1
    return 0


@backup.group("catalog")
def catalog() -> None:
    """The catalog of backups in the state store (an index of the manifests in storage)."""


@catalog.command("rebuild")
@click.argument("name")
@click.pass_obj
def rebuild(app: AppContext, name: str) -> None:
    """Recreate NAME's catalog from the manifests in its storage alone."""
    counts = _service(app).rebuild_catalog(name)
    Output().line(
        f"catalog of {name}: {plural(counts['found'], 'backup')} found in storage, {counts['forgotten']} forgotten"
    )


@backup.command("metrics")
@click.pass_obj
def metrics(app: AppContext) -> None:
    """Backup metrics in OpenMetrics text (last success, size, duration, verify, drills)."""
    from tiation.backup.metrics import backup_metrics

    names = sorted(app.loaded().platform.backups)
    with app.store().read("read metrics") as uow:
        backups, drills = uow.backups.find(), uow.drills.recent(limit=1000)
    sys.stdout.write(backup_metrics(backups, drills, names).decode())


def _identities(paths: tuple[str, ...]) -> list[str]:
    from pathlib import Path

    from tiation.errors import UsageError

    texts = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"cannot read identity file {path}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        if "AGE-SECRET-KEY-" not in text:
            raise UsageError(f"{path} holds no age identity (a line starting AGE-SECRET-KEY-)")
        texts.append(text)
    return texts


@backup.command("restore")
@click.argument("backup_id", required=False)
@click.option(
    "--to", "to", metavar="TARGET", help="New database name / file / directory (default: a new one)."
)
@click.option(
    "--replace", is_flag=True, help="After the checks pass, swap it in; the old one is kept, renamed."
)
@click.option(
    "-i", "--identity", "identity", multiple=True, metavar="FILE", help="age identity file (repeatable)."
)
@click.option(
    "--cleanup", is_flag=True, help="Only clean up after restores that were interrupted (killed midway)."
)
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def restore(
    app: AppContext,
    backup_id: str | None,
    to: str | None,
    replace: bool,
    identity: tuple[str, ...],
    cleanup: bool,
    json_mode: bool,
) -> None:
    """Restore BACKUP_ID into a new database (never over the live one) and run the configured checks.

    BACKUP_ID is an id, a unique prefix, `latest` (the newest backup) or `NAME@latest` (the newest of NAME).
    """
    from tiation.backup.recovery import restore as do_restore

    out = Output(json_mode=json_mode)
    service = _service(app)
    if cleanup or backup_id is None:
        _cleanup_restores(service, out, given=cleanup)
        return
    identities = _identities(identity)
    run = partial(do_restore, service, backup_id, to=to, replace=replace, identities=identities)
    result = _with_progress(out, f"restoring {backup_id}", run) if out.tty else run()
    out.data(result.to_dict())
    out.line(
        f"restored {result.backup_id} into {result.target} ({_size(result.restored_bytes)}) in "
        f"{result.phases['total_s']:.1f}s; checks: {'; '.join(result.checks) or 'none configured'}"
    )
    if result.replaced:
        out.line(f"swapped in; the previous one is kept as {result.replaced}")
    for line in result.interrupted:
        out.line(line)
    if result.manifest.startswith("unprotected"):
        out.line(f"note: the backup's manifest is {result.manifest}: it carries no checksum or seal")


def _with_progress(out: Output, label: str, run: Callable[..., RestoreResult]) -> RestoreResult:
    """Run a restore with a Rich progress bar (bytes, speed, time left) on the terminal."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=out.console,
        transient=True,
    )
    task = bar.add_task(label, total=None)
    with bar:
        return run(progress=lambda done, total: bar.update(task, completed=done, total=total or None))


def _cleanup_restores(service: Any, out: Output, *, given: bool) -> None:
    from tiation.backup.restores import reap
    from tiation.errors import UsageError

    if not given:
        raise UsageError("give a BACKUP_ID to restore (or --cleanup)")
    lines = reap(service)
    out.data({"interrupted": lines})
    for line in lines or ["no interrupted restores"]:
        out.line(line)


@backup.command("drill")
@click.argument("name")
@click.option(
    "-i", "--identity", "identity", multiple=True, metavar="FILE", help="age identity file (repeatable)."
)
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def drill(app: AppContext, name: str, identity: tuple[str, ...], json_mode: bool) -> int:
    """Restore NAME's newest backup into a scratch target, check it, and measure the RTO against the objective."""
    from tiation.backup.recovery import drill as do_drill

    out = Output(json_mode=json_mode)
    row, _ = do_drill(_service(app), name, identities=_identities(identity))
    out.data(
        {
            "drill_id": row.id,
            "backup_id": row.backup_id,
            "passed": row.passed,
            "rto_s": row.rto_s,
            "objective_s": row.objective_s,
            "phases": row.phases,
            "detail": row.detail,
        }
    )
    verdict = "PASSED" if row.passed else "FAILED"
    out.line(f"drill {row.id} of {name}: {verdict} — {row.detail}")
    return 0 if row.passed else 1
