"""Times as people type them on the command line (or in an API query), read in a schedule's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tiation.config.durations import parse_duration
from tiation.config.oncall import localize
from tiation.errors import UsageError

MIN_YEAR, MAX_YEAR = 1900, 2999

FORMATS = (
    "'now', '+1d' / '-2h' (from now), '2026-03-29T09:00:00Z' (with an offset), "
    "'2026-03-29 09:00' or '2026-03-29' (in the schedule's time zone)"
)


def parse_time(text: str, tz: ZoneInfo, now: datetime, *, what: str = "time") -> datetime:
    """An instant (UTC) from `text`; a time without an offset is wall-clock time in `tz`.

    Raises UsageError naming `what` for anything else (or a year outside 1900-2999).
    """
    value = text.strip()
    if value.lower() == "now":
        return now.astimezone(UTC)
    if is_relative(value):
        try:
            delta = parse_duration(value[1:])
        except ValueError:
            raise UsageError(f"{what}: expected {FORMATS}, got {text!r}") from None
        return _in_range((now + delta if value[0] == "+" else now - delta).astimezone(UTC), text, what)
    try:
        parsed = datetime.fromisoformat(value)  # a bare date is its midnight
    except ValueError:
        raise UsageError(f"{what}: expected {FORMATS}, got {text!r}") from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise UsageError(f"{what}: the year must be from {MIN_YEAR} to {MAX_YEAR}, got {text!r}")
    if parsed.tzinfo is None:
        return localize(parsed, tz)
    return _in_range(parsed.astimezone(UTC), text, what)


def _in_range(at: datetime, text: str, what: str) -> datetime:
    if not MIN_YEAR <= at.year <= MAX_YEAR:
        raise UsageError(f"{what}: the year must be from {MIN_YEAR} to {MAX_YEAR}, got {text!r}")
    return at


def parse_range(
    start: str | None,
    end: str | None,
    tz: ZoneInfo,
    now: datetime,
    *,
    default_start: timedelta = timedelta(0),
    default_length: timedelta = timedelta(days=14),
    max_length: timedelta = timedelta(days=400),
) -> tuple[datetime, datetime]:
    """`--from` / `--to` as instants: defaults `now + default_start` and `from + default_length`. A relative
    `--to` (`+2w`) counts from `--from`. The end must be after the start and at most `max_length` later."""
    lo = parse_time(start, tz, now, what="--from") if start else (now + default_start).astimezone(UTC)
    hi = parse_time(end, tz, lo if is_relative(end) else now, what="--to") if end else lo + default_length
    if hi <= lo:
        raise UsageError(f"--to must be after --from ({hi.isoformat()} is not after {lo.isoformat()})")
    if hi - lo > max_length:
        raise UsageError(f"--from/--to span at most {max_length.days} days")
    return lo, hi


def is_relative(text: str | None) -> bool:
    """`+2w` / `-1d`: a time relative to another one."""
    value = (text or "").strip()
    return value.startswith(("+", "-")) and value[1:2].isdigit()
