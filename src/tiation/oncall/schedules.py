"""On-call schedules as pure functions of time: who is on call at an instant, and the shifts over an interval.

A schedule has ordered layers and overrides. Overrides win over every layer (of two overlapping overrides, the
later one wins: file overrides in file order, then stored ones by id); a later layer wins over an earlier one
wherever it has someone on call. Nothing here reads a clock or does I/O; every instant is timezone-aware.

Turns are counted in the schedule zone's wall-clock time. The k-th handoff of a layer is at the wall-clock time
`G + k * rotation`, where `G` is the start's local date at `handoff` (default: the start's local time of day),
made an instant by `tiation.config.oncall.localize` (a time in a spring-forward gap becomes the end of the gap;
a time in a fall-back fold is its first occurrence, `fold=0`). So:

- a `1w` rotation with handoff 09:00 Europe/Berlin hands off at 09:00 local every week; the turn across a
  daylight-saving change lasts 7 days plus or minus an hour of real time;
- a `12h` rotation with handoff 08:00 hands off at 08:00 and 20:00 local every day; the turn across the change
  lasts 11 or 13 hours. Sub-day rotations follow the same rule: handoffs stay on the wall-clock grid, and a turn
  whose whole wall-clock span falls in a gap (a `1h` turn 02:00-03:00 on the spring-forward night) does not
  happen: it has no length and that member is skipped;
- the first member is on call from `start` until the first handoff after it; if `start` is earlier in its day
  than `handoff`, that time is part of the first turn (a layer starting Monday 00:00 with a weekly handoff at
  09:00 gives the first member Monday 00:00 to the next Monday 09:00).

Restrictions (`days`, `start`-`end` in the schedule's zone) say when a layer is in effect; outside them it is
empty and lower layers show through. Members keep rotating while a layer is restricted. Finding the turn at an
instant is arithmetic on wall-clock time (a floor division, then at most a few steps to settle a DST change),
not a walk from the start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from tiation.config.oncall import (
    WEEKDAYS,
    LayerSpec,
    Person,
    ScheduleSpec,
    clock_minutes,
    localize,
    resolve,
    zone,
)

__all__ = ["Layer", "Override", "Schedule", "Shift"]

UNCOVERED = "uncovered"
_DAY = timedelta(days=1)

Segment = tuple[datetime, datetime, str, tuple[object, ...]]
"""(start, end, person, identity): a piece of one turn or one override; equal identities are one shift."""


@dataclass(frozen=True)
class Shift:
    """Who is on call from `start` to `end` (UTC), and why: `layer:NAME`, `override:REF` or `uncovered`."""

    start: datetime
    end: datetime
    person: str | None
    source: str


@dataclass(frozen=True)
class Override:
    """`person` on call from `start` to `end` instead of the layers. `ref` names it: `file:N` or a store id."""

    start: datetime
    end: datetime
    person: str
    ref: str
    reason: str = ""

    def __post_init__(self) -> None:
        _aware(self.start)
        _aware(self.end)
        if self.end <= self.start:
            raise ValueError("an override must end after it starts")


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(
            f"a naive datetime ({at.isoformat()}) given to a schedule: pass timezone-aware times"
        )
    return at


class Layer:
    """One rotation of a schedule, ready to answer questions about time."""

    def __init__(self, spec: LayerSpec, tz: ZoneInfo, index: int = 0) -> None:
        self.name = spec.name
        self.members = list(spec.members)
        self.rotation = spec.rotation
        self.tz = tz
        self.position = index
        self.start = resolve(spec.start, tz, at=spec.handoff)
        self.end = None if spec.end is None else resolve(spec.end, tz, at=spec.handoff)
        local_start = self.start.astimezone(tz).replace(tzinfo=None)
        if spec.handoff is not None:
            midnight = local_start.replace(hour=0, minute=0, second=0, microsecond=0)
            self.grid = midnight + timedelta(minutes=clock_minutes(spec.handoff))
        else:
            self.grid = local_start
        self.restrictions = [
            (
                frozenset(WEEKDAYS.index(d) for d in r.days),
                clock_minutes(r.start),
                _end_minutes(r.start, r.end),
            )
            for r in spec.restrictions
        ]
        self.first = max(0, self.index(self.start))

    def handoff(self, k: int) -> datetime:
        """The instant of the k-th handoff on the wall-clock grid (k may be negative)."""
        return localize(self.grid + k * self.rotation, self.tz)

    def index(self, at: datetime) -> int:
        """The largest k with `handoff(k) <= at` (grid turns, ignoring the layer's start)."""
        local = at.astimezone(self.tz).replace(tzinfo=None)
        k = (local - self.grid) // self.rotation
        # Wall-clock time runs back in a fold and jumps in a gap: settle on the right side of the change.
        while self.handoff(k) > at:
            k -= 1
        while self.handoff(k + 1) <= at:
            k += 1
        return k

    def turn_bounds(self, k: int) -> tuple[datetime, datetime]:
        """The interval of grid turn `k` (the first turn begins at the layer's start)."""
        begin = self.start if k == self.first else self.handoff(k)
        return begin, self.handoff(k + 1)

    def member(self, k: int) -> str:
        """Who holds grid turn `k`."""
        return self.members[(k - self.first) % len(self.members)]

    def in_effect(self, at: datetime) -> bool:
        """Inside the layer's start/end and one of its restriction windows (if it has any)."""
        if at < self.start or (self.end is not None and at >= self.end):
            return False
        if not self.restrictions:
            return True
        return any(s <= at < e for s, e in self.windows(at, at + timedelta(microseconds=1)))

    def at(self, at: datetime) -> str | None:
        """Who this layer has on call at `at`, or None where it is empty."""
        if not self.in_effect(at):
            return None
        return self.member(max(self.index(at), self.first))

    def windows(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The restriction windows that overlap [start, end), merged where they touch, in time order."""
        first_day = start.astimezone(self.tz).date() - 2 * _DAY
        last_day = end.astimezone(self.tz).date() + _DAY
        found: list[tuple[datetime, datetime]] = []
        day = first_day
        while day <= last_day:
            midnight = datetime(day.year, day.month, day.day)
            for days, begin, finish in self.restrictions:
                if day.weekday() in days:
                    s = localize(midnight + timedelta(minutes=begin), self.tz)
                    e = localize(midnight + timedelta(minutes=finish), self.tz)
                    if s < e and e > start and s < end:
                        found.append((s, e))
            day += _DAY
        found.sort()
        merged: list[tuple[datetime, datetime]] = []
        for s, e in found:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        return merged

    def segments(self, start: datetime, end: datetime) -> list[Segment]:
        """This layer's on-call pieces within [start, end), in time order."""
        lo = max(start, self.start)
        hi = end if self.end is None else min(end, self.end)
        if lo >= hi:
            return []
        turns: list[Segment] = []
        k = max(self.index(lo), self.first)
        while True:
            begin, finish = self.turn_bounds(k)
            if begin < finish:
                piece = (max(begin, lo), min(finish, hi))
                turns.append((piece[0], piece[1], self.member(k), (self.position, k)))
            if finish >= hi:
                break
            k += 1
        if not self.restrictions:
            return turns
        return _intersect(turns, self.windows(lo, hi))


def _end_minutes(start: str, end: str) -> int:
    begin, finish = clock_minutes(start), clock_minutes(end, allow_24=True)
    return finish if finish > begin else finish + 24 * 60


def _intersect(turns: list[Segment], windows: list[tuple[datetime, datetime]]) -> list[Segment]:
    out: list[Segment] = []
    i = j = 0
    while i < len(turns) and j < len(windows):
        ts, te, person, ident = turns[i]
        ws, we = windows[j]
        s, e = max(ts, ws), min(te, we)
        if s < e:
            out.append((s, e, person, (*ident, ws)))
        if te <= we:
            i += 1
        else:
            j += 1
    return out


class Schedule:
    """A named schedule: `who(at)` and `shifts(start, end)`, both pure."""

    def __init__(
        self,
        name: str,
        spec: ScheduleSpec,
        people: Mapping[str, Person],
        overrides: Sequence[Override] = (),
    ) -> None:
        self.name = name
        self.spec = spec
        self.tz = zone(spec.time_zone)
        self.people = dict(people)
        self.layers = [Layer(layer, self.tz, i) for i, layer in enumerate(spec.layers)]
        from_file = [
            Override(
                start=resolve(o.start, self.tz),
                end=resolve(o.end, self.tz),
                person=o.person,
                ref=f"file:{i}",
                reason=o.reason,
            )
            for i, o in enumerate(spec.overrides)
        ]
        self.overrides = [*from_file, *overrides]

    def with_overrides(self, overrides: Sequence[Override]) -> Schedule:
        """The same schedule with `overrides` added after the ones it has."""
        extra = [o for o in self.overrides if not o.ref.startswith("file:")]
        return Schedule(self.name, self.spec, self.people, [*extra, *overrides])

    def on_call(self, at: datetime) -> tuple[str | None, str]:
        """(person or None, source) at the instant `at`."""
        _aware(at)
        for o in reversed(self.overrides):
            if o.start <= at < o.end:
                return o.person, f"override:{o.ref}"
        for layer in reversed(self.layers):
            person = layer.at(at)
            if person is not None:
                return person, f"layer:{layer.name}"
        return None, UNCOVERED

    def who(self, at: datetime) -> list[Person]:
        """The people on call at `at` (one, or none where nothing covers it)."""
        person, _source = self.on_call(at)
        return [] if person is None else [self.people[person]]

    def shifts(self, start: datetime, end: datetime) -> list[Shift]:
        """Shifts covering [start, end) exactly: contiguous, in order, not overlapping; where no layer or
        override has anyone, an explicit `uncovered` shift (person None). Shifts are cut at the interval's
        edges."""
        _aware(start)
        _aware(end)
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return []
        sources: list[tuple[str, list[Segment]]] = []
        for i in reversed(range(len(self.overrides))):
            o = self.overrides[i]
            if o.start < end and o.end > start:
                piece = (max(o.start, start), min(o.end, end), o.person, ("override", i))
                sources.append((f"override:{o.ref}", [piece]))
        sources.extend((f"layer:{layer.name}", layer.segments(start, end)) for layer in reversed(self.layers))
        points = {start, end}
        for _label, segments in sources:
            for s, e, _person, _ident in segments:
                points.update((s, e))
        edges = sorted(points)
        cursors = [0] * len(sources)
        out: list[Shift] = []
        last_ident: object = None
        for p, q in pairwise(edges):
            chosen: tuple[str | None, str, object] = (None, UNCOVERED, UNCOVERED)
            for n, (label, segments) in enumerate(sources):
                while cursors[n] < len(segments) and segments[cursors[n]][1] <= p:
                    cursors[n] += 1
                if cursors[n] < len(segments) and segments[cursors[n]][0] <= p:
                    seg = segments[cursors[n]]
                    chosen = (seg[2], label, seg[3])
                    break
            person, label, ident = chosen
            if out and ident == last_ident:
                out[-1] = Shift(out[-1].start, q, person, label)
            else:
                out.append(Shift(p, q, person, label))
            last_ident = ident
        return out

    def horizon(self) -> timedelta:
        """How far `current` and `whole_shifts` look past their interval: two of the longest rotations and
        a day."""
        return 2 * max(layer.rotation for layer in self.layers) + _DAY

    def whole_shifts(self, start: datetime, end: datetime) -> list[Shift]:
        """The shifts that overlap [start, end), not cut at its edges (only at `horizon()` beyond them)."""
        _aware(start)
        _aware(end)
        margin = self.horizon()
        return [s for s in self.shifts(start - margin, end + margin) if s.end > start and s.start < end]

    def current(self, at: datetime) -> Shift:
        """The shift covering `at` (cut only at `horizon()` either side)."""
        return self.whole_shifts(at, at + timedelta(microseconds=1))[0]
