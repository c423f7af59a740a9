"""The platform file's `people:` and `oncall:` sections, and the wall-clock rules schedules are built on.

`people` name who can be paged and how to reach them. `oncall.schedules` are layered rotations in a time zone
(see `tiation.oncall.schedules` for what they mean). Times written without an offset are wall-clock times in the
schedule's zone, turned into instants by `localize`: a local time that does not exist (the spring-forward gap)
becomes the end of the gap, and a local time that happens twice (the fall-back fold) is the first of the two
(`fold=0`). Cross-references (members and override persons are people) are found by `oncall_problems`, which
`tiation.config.checks` turns into positioned errors.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, field_validator, model_validator

from tiation.config.base import Name, Strict
from tiation.config.durations import Duration

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_ROTATION = timedelta(days=365)
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; ValueError with a one-line message (and a suggestion) if there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    from zoneinfo import available_timezones

    close = difflib.get_close_matches(name, sorted(available_timezones()), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else " (expected an IANA name like 'Europe/Berlin')"
    raise ValueError(f"unknown time zone {name!r}{hint}")


def _zone_name(value: str) -> str:
    zone(value)
    return value


def clock_minutes(text: str, *, allow_24: bool = False) -> int:
    """Minutes after midnight of a wall-clock time `HH:MM` (`24:00` only with `allow_24`)."""
    if allow_24 and text == "24:00":
        return 24 * 60
    match = _CLOCK.match(text)
    if match is None:
        allowed = "'00:00' to '24:00'" if allow_24 else "'00:00' to '23:59'"
        raise ValueError(f"expected a wall-clock time 'HH:MM' from {allowed}, got {text!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


def _clock(text: str) -> str:
    clock_minutes(text)
    return text


def _clock_end(text: str) -> str:
    clock_minutes(text, allow_24=True)
    return text


def _when(value: Any) -> datetime | date:
    """A date-time (with an offset: an instant; without: wall-clock time in the schedule's zone) or a date."""
    if isinstance(value, datetime):
        # ruamel's TimeStamp is a datetime subclass: keep a plain datetime.
        return datetime.combine(value.date(), value.timetz())
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(
        "expected a date-time like '2024-01-01T09:00:00Z', a local '2024-01-01 09:00' (in the schedule's "
        f"time zone) or a date, got {value!r}"
    )


def _iso(value: datetime | date) -> str:
    return value.isoformat()


TimeZone = Annotated[str, AfterValidator(_zone_name)]
"""An IANA time zone name, checked against the zone database."""
WallClock = Annotated[str, AfterValidator(_clock)]
"""A wall-clock time `HH:MM` (00:00-23:59)."""
WallClockEnd = Annotated[str, AfterValidator(_clock_end)]
"""A wall-clock time `HH:MM` that may also be `24:00` (the end of the day)."""
When = Annotated[datetime | date, BeforeValidator(_when), PlainSerializer(_iso, return_type=str)]
"""An instant (date-time with offset), a wall-clock date-time in the schedule's zone, or a date."""


class Person(Strict):
    """Someone who can be paged, with the ways to reach them."""

    name: str = Field(min_length=1)
    email: str | None = None
    chat: str | None = None
    """A chat handle, e.g. `@primary-engineer`."""
    phone: str | None = None
    time_zone: TimeZone = "UTC"


class RestrictionSpec(Strict):
    """When a layer is in effect: `start`-`end` on each of `days`, in the schedule's zone.

    An `end` at or before `start` runs past midnight into the next day (`22:00`-`06:00`); `24:00` is midnight
    at the end of the day.
    """

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    start: WallClock
    end: WallClockEnd

    @model_validator(mode="after")
    def _not_empty(self) -> RestrictionSpec:
        if clock_minutes(self.start) == clock_minutes(self.end, allow_24=True):
            raise ValueError("a restriction's start and end must differ (for a whole day use 00:00-24:00)")
        return self


class LayerSpec(Strict):
    """One rotation: `members` take turns of `rotation` each, handing off at `handoff` wall-clock time."""

    name: Name
    start: When
    """When the layer starts (the first member's turn begins); a date means that day at `handoff`."""
    rotation: Duration
    """Turn length in wall-clock time (`1w`, `1d`, `12h`), at least 1m, whole minutes, at most 365d."""
    handoff: WallClock | None = None
    """The wall-clock time turns change; default the start's local time of day."""
    members: list[Name] = Field(min_length=1)
    restrictions: list[RestrictionSpec] = Field(default_factory=list)
    """When given, the layer is empty outside these windows (lower layers show through)."""
    end: When | None = None
    """When the layer stops (a date means that day at `handoff`)."""

    @field_validator("rotation")
    @classmethod
    def _rotation(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1) or value % timedelta(minutes=1):
            raise ValueError("a rotation must be a whole number of minutes, at least 1m")
        if value > MAX_ROTATION:
            raise ValueError("a rotation can be at most 365d")
        return value


class OverrideSpec(Strict):
    """Someone on call instead of the layers, from `start` to `end`."""

    start: When
    end: When
    person: Name
    reason: str = ""


class ScheduleSpec(Strict):
    """Layers (later ones win over earlier ones) and overrides (win over every layer) in one time zone."""

    description: str = ""
    time_zone: TimeZone = "UTC"
    layers: list[LayerSpec] = Field(min_length=1)
    overrides: list[OverrideSpec] = Field(default_factory=list)


class Oncall(Strict):
    """On-call schedules by name."""

    schedules: dict[Name, ScheduleSpec] = Field(default_factory=dict)


# -- wall-clock time -------------------------------------------------------------------------------------


def localize(naive: datetime, tz: ZoneInfo) -> datetime:
    """The instant (UTC) of the wall-clock time `naive` in `tz`.

    A time in a spring-forward gap does not exist: it becomes the end of the gap (the first instant after it),
    so later wall times never map to earlier instants. A time in a fall-back fold happens twice: it is the
    first of the two (`fold=0`).
    """
    if naive.tzinfo is not None:
        raise ValueError("localize() takes a naive (wall-clock) datetime")
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # In a gap: fold=1 reads it with the offset after the change, which puts it before the transition; the
    # transition (a whole second) is the first instant in (lo, hi] with the offset after it.
    lo = math.floor(naive.replace(tzinfo=tz, fold=1).timestamp())
    hi = math.ceil(first.timestamp())
    after = first.astimezone(tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def resolve(when: datetime | date, tz: ZoneInfo, *, at: str | None = None) -> datetime:
    """A `When` as an instant: an aware date-time as is; wall-clock date-times in `tz`; a date at `at`."""
    if isinstance(when, datetime):
        return when.astimezone(UTC) if when.tzinfo is not None else localize(when, tz)
    minutes = clock_minutes(at) if at else 0
    return localize(datetime(when.year, when.month, when.day) + timedelta(minutes=minutes), tz)


# -- cross-references ------------------------------------------------------------------------------------


def oncall_problems(oncall: Oncall, people: Mapping[str, Person]) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Mistakes across entries, each as (path from the file's root, message): unknown people, layers with
    the same name, ends not after starts."""
    known = sorted(people)

    def unknown(name: str) -> str:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        listed = f"; people defines {', '.join(map(repr, known))}" if known else "; people defines none"
        return f"unknown person {name!r}" + (f" (did you mean {close[0]!r}?)" if close else listed)

    for sname, spec in oncall.schedules.items():
        tz = zone(spec.time_zone)
        base = ("oncall", "schedules", sname)
        seen: set[str] = set()
        for i, layer in enumerate(spec.layers):
            if layer.name in seen:
                yield (*base, "layers", i, "name"), f"duplicate layer name {layer.name!r}"
            seen.add(layer.name)
            for j, member in enumerate(layer.members):
                if member not in people:
                    yield (*base, "layers", i, "members", j), unknown(member)
            start = resolve(layer.start, tz, at=layer.handoff)
            if layer.end is not None and resolve(layer.end, tz, at=layer.handoff) <= start:
                yield (*base, "layers", i, "end"), "must be after the layer's start"
        for i, override in enumerate(spec.overrides):
            if override.person not in people:
                yield (*base, "overrides", i, "person"), unknown(override.person)
            if resolve(override.end, tz) <= resolve(override.start, tz):
                yield (*base, "overrides", i, "end"), "must be after the override's start"
