"""Silences added by hand (CLI or management API): add, expire, list — and the ones the pipeline applies.

The platform file's silences are configuration; these are stored rows with an id, a window, a comment and
who added them. Adding or expiring one is audited. The CLI (`tiation alerts silence …`) and the server call
this module, so both validate and record a silence the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from tiation.clock import Clock
from tiation.config.alerting import Silence
from tiation.errors import UsageError
from tiation.state.alert_rows import SilenceRow
from tiation.state.alerts import AlertTx
from tiation.state.store import StateStore


def stored_silences(tx: AlertTx, at: datetime) -> list[tuple[int, Silence]]:
    """Silences added through the CLI or API that are in force at `at`, as (id, silence)."""
    return [
        (
            r.id,
            Silence(
                match=r.matchers,
                comment=r.comment,
                starts_at=r.starts_at.isoformat(),
                ends_at=r.ends_at.isoformat(),
            ),
        )
        for r in tx.list_silences(active_at=at)
    ]


def check_matchers(matchers: Mapping[str, str]) -> dict[str, str]:
    """`matchers` (label name -> full-match regular expression) if every pattern compiles."""
    if not matchers:
        raise UsageError("matchers: a silence needs at least one NAME=REGEX matcher")
    for name, pattern in matchers.items():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UsageError(f"matchers: {name}: not a regular expression: {exc}") from None
    return dict(matchers)


class SilenceService:
    """Stored silences of one state store."""

    def __init__(self, store: StateStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def add(
        self, matchers: Mapping[str, str], start: datetime, length: timedelta, comment: str, *, actor: str
    ) -> int:
        """Silence alerts matching `matchers` from `start` for `length`; the new silence's id (audited)."""
        match = check_matchers(matchers)
        if length <= timedelta(0):
            raise UsageError("a silence must last longer than 0s")
        end = start + length
        with self.store.write("add a silence") as uow:
            silence_id = uow.alerts.add_silence(match, start, end, comment, actor, self.clock.now())
            details = {
                "id": silence_id,
                "matchers": match,
                "starts_at": start.isoformat(),
                "ends_at": end.isoformat(),
                "comment": comment,
            }
            uow.audit.record(actor=actor, action="alerts.silence.add", details=details)
        return silence_id

    def expire(self, silence_id: int, *, actor: str) -> None:
        """End a silence now (audited); a UsageError when no such silence is in force."""
        with self.store.write("expire a silence") as uow:
            if not uow.alerts.expire_silence(silence_id, self.clock.now()):
                raise UsageError(f"no silence #{silence_id} in force (see: tiation alerts silence list)")
            uow.audit.record(actor=actor, action="alerts.silence.expire", details={"id": silence_id})

    def rows(self) -> list[SilenceRow]:
        """Every stored silence, newest first."""
        with self.store.read("list silences") as uow:
            return uow.alerts.list_silences()

    def active_at(self, at: datetime) -> list[tuple[int, Silence]]:
        """The stored silences in force at `at`, as the pipeline applies them."""
        with self.store.read("read silences") as uow:
            return stored_silences(uow.alerts, at)
