"""Restores are recorded as they start, so one killed midway is found, reported and cleaned up.

`begin` writes a `backup.restore.start` audit event (restore token, backup, target, host, pid and the pid's
start time); the end is the existing `backup.restore` event (or `backup.restore.failed`) carrying the same
token. `reap` — run at the start of every restore, and by `backup restore --cleanup` — finds starts without an
end whose process is provably dead (same host; the pid is gone or was reused: its start time differs), asks
the source plug-in to `discard()` what a killed restore leaves (a half-loaded database, a temp file, a staging
directory — never a complete target), and records `backup.restore.interrupted` naming what it removed.

The record lives in the audit log that the state store has today (no new table while the store's API is being
reworked); only the newest `SCAN` events are searched.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tiation.errors import TiationError
from tiation.state.processes import pid_start, running

if TYPE_CHECKING:
    from tiation.backup.service import BackupService

START, DONE, FAILED, INTERRUPTED = (
    "backup.restore.start",
    "backup.restore",
    "backup.restore.failed",
    "backup.restore.interrupted",
)
SCAN = 2000


def begin(service: BackupService, backup_id: str, name: str, target: str) -> str:
    """Record that a restore of `backup_id` into `target` starts now; returns its token."""
    token = secrets.token_hex(6)
    details = {
        "restore": token,
        "id": backup_id,
        "name": name,
        "target": target,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "pid_start": pid_start(os.getpid()),
    }
    with service.state.write("record a restore's start") as uow:
        uow.audit.record(actor=service.actor, action=START, details=details)
    return token


@dataclass(frozen=True)
class Interrupted:
    """A restore that started and never ended, whose process is dead."""

    token: str
    backup_id: str
    name: str
    target: str
    started: str


def interrupted(service: BackupService) -> list[Interrupted]:
    """Restores recorded as started, never ended, by a process of this host that is no longer running."""
    with service.state.read("read the restore journal") as uow:
        events = uow.audit.events(limit=SCAN)
    ended = {e.details.get("restore") for e in events if e.action in (DONE, FAILED, INTERRUPTED)}
    host = socket.gethostname()
    found = []
    for event in events:
        d: dict[str, Any] = event.details
        if event.action != START or d.get("restore") in ended or d.get("host") != host:
            continue
        if running(int(d.get("pid", 0)), d.get("pid_start")):
            continue
        found.append(
            Interrupted(
                str(d.get("restore")),
                str(d.get("id")),
                str(d.get("name")),
                str(d.get("target")),
                event.at.isoformat(),
            )
        )
    return found


def reap(service: BackupService) -> list[str]:
    """Clean up after interrupted restores; one line each, naming what was removed."""
    lines = []
    for gone in interrupted(service):
        try:
            removed = service.source(gone.name).discard(gone.target)
            what = f"removed {', '.join(removed)}" if removed else "no half-restored leftovers found"
        except TiationError as exc:
            removed, what = [], f"could not clean up ({exc.message}); remove it by hand"
        with service.state.write("record an interrupted restore") as uow:
            uow.audit.record(
                actor=service.actor,
                action=INTERRUPTED,
                details={
                    "restore": gone.token,
                    "id": gone.backup_id,
                    "target": gone.target,
                    "removed": removed,
                },
            )
        lines.append(
            f"restore of {gone.backup_id} into {gone.target} (started {gone.started}) was interrupted: {what}"
        )
    return lines
