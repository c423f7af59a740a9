"""Whether a silence (one-off window or weekly maintenance window) is active at a moment (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tiation.config.alerting import WEEKDAYS, Recurrence, Silence, parse_instant


def window_end(every: Recurrence, at: datetime) -> datetime | None:
    """When the weekly window that contains `at` closes (None when `at` is outside every window)."""
    local = at.astimezone(ZoneInfo(every.time_zone))
    start, end = time.fromisoformat(every.start), time.fromisoformat(every.end)
    for day_offset in (0, -1):  # a window that opened yesterday may still be open
        day = (local + timedelta(days=day_offset)).date()
        if WEEKDAYS[day.weekday()] not in every.days:
            continue
        opens = datetime.combine(day, start, local.tzinfo).astimezone(UTC)
        closes = datetime.combine(day + timedelta(days=1) if end <= start else day, end, local.tzinfo)
        # compare instants: wall-clock arithmetic across a DST change would be off by the shift
        if opens <= at < closes.astimezone(UTC):
            return closes.astimezone(UTC)
    return None


def silence_end(silence: Silence, at: datetime) -> datetime:
    """When a silence that is active at `at` stops (for a weekly window: the close of the current one)."""
    if silence.every is not None:
        end = window_end(silence.every, at)
        return end if end is not None else at
    assert silence.ends_at is not None
    return parse_instant(silence.ends_at).astimezone(UTC)


def is_active(silence: Silence, at: datetime) -> bool:
    """Is the silence in force at `at`?"""
    if silence.every is not None:
        return window_end(silence.every, at) is not None
    assert silence.starts_at is not None and silence.ends_at is not None
    return parse_instant(silence.starts_at) <= at < parse_instant(silence.ends_at)


def active_silence(
    silences: Sequence[Silence],
    labels: Mapping[str, str],
    at: datetime,
    matches: Callable[[Mapping[str, str], Mapping[str, str]], bool],
) -> tuple[int, Silence] | None:
    """The first silence that matches `labels` and is active at `at`, with its index."""
    for index, silence in enumerate(silences):
        if matches(silence.match, labels) and is_active(silence, at):
            return index, silence
    return None
