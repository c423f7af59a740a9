"""Schedules from the platform file plus the overrides in the state store; adding and removing overrides.

What the CLI and the HTTP API share. Every mistake a caller can make (an unknown schedule or person, an end not
after the start, an unknown override id) is a one-line `UsageError`; adding and removing are audited by the
store in the same transaction.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from tiation.config.models import Platform
from tiation.errors import UsageError
from tiation.oncall.schedules import Override, Schedule

if TYPE_CHECKING:
    from tiation.state import StateStore
    from tiation.state.oncall import OverrideRow


def _unknown(kind: str, name: str, known: Sequence[str]) -> UsageError:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if close:
        return UsageError(f"unknown {kind} {name!r} (did you mean {close[0]!r}?)")
    return UsageError(f"unknown {kind} {name!r} (known: {', '.join(sorted(known)) or 'none'})")


def require_schedule(platform: Platform, name: str) -> None:
    """A one-line UsageError unless `name` is a schedule in the platform file."""
    if name not in platform.oncall.schedules:
        raise _unknown("schedule", name, list(platform.oncall.schedules))


def as_override(row: OverrideRow) -> Override:
    """A stored override as the schedule sees it (`ref` is its id)."""
    return Override(start=row.start, end=row.end, person=row.person, ref=str(row.id), reason=row.reason)


def load_schedule(
    platform: Platform,
    name: str,
    store: StateStore | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Schedule:
    """Schedule `name` with the platform file's overrides and (given a store) the stored ones that overlap
    [start, end) (all of them when no range is given)."""
    require_schedule(platform, name)
    rows = []
    if store is not None:
        with store.read("list on-call overrides") as uow:
            rows = uow.overrides.find(schedule=name, ending_after=start, starting_before=end)
    # A stored override naming someone since removed from `people:` is kept out rather than failing `who`.
    overrides = [as_override(r) for r in rows if r.person in platform.people]
    return Schedule(name, platform.oncall.schedules[name], platform.people, overrides)


def load_schedules(
    platform: Platform,
    store: StateStore | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Schedule]:
    """Every schedule of the platform file (sorted by name), with overrides as in `load_schedule`."""
    return [
        load_schedule(platform, n, store, start=start, end=end) for n in sorted(platform.oncall.schedules)
    ]


def add_override(
    platform: Platform,
    store: StateStore,
    *,
    schedule: str,
    person: str,
    start: datetime,
    end: datetime,
    actor: str,
    reason: str = "",
) -> OverrideRow:
    """Check and store an override (audited `oncall.override.add` with actor, schedule, person, start, end)."""
    require_schedule(platform, schedule)
    if person not in platform.people:
        raise _unknown("person", person, list(platform.people))
    if start.tzinfo is None or end.tzinfo is None:
        raise UsageError("an override's start and end need a time zone")
    if end <= start:
        raise UsageError(
            f"an override must end after it starts (start {start.isoformat(timespec='seconds')}, "
            f"end {end.isoformat(timespec='seconds')})"
        )
    with store.write("add an on-call override") as uow:
        return uow.overrides.add(
            schedule=schedule, person=person, start=start, end=end, reason=reason, actor=actor
        )


def remove_override(store: StateStore, override_id: int, *, actor: str) -> OverrideRow:
    """Delete a stored override (audited `oncall.override.remove`); UsageError if there is no such id."""
    with store.write("remove an on-call override") as uow:
        removed = uow.overrides.remove(override_id, actor=actor)
    if removed is None:
        raise UsageError(f"no on-call override with id {override_id}")
    return removed
