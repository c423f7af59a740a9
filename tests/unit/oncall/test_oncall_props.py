"""Properties of schedules that hold in every time zone, across daylight-saving changes (hypothesis).

Windows are drawn near the zone's real UTC-offset changes (2015-2035) half of the time, so most examples cross
one. The checks are written from the rules in `tiation.oncall.schedules`' docstring, not from its code: wall
times are read back with `astimezone`, and restriction windows are checked on the local weekday and time.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiation.config.oncall import Person, ScheduleSpec
from tiation.oncall.schedules import Override, Schedule, Shift

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute DST
    "Pacific/Chatham",  # +12:45 / +13:45
    "Asia/Kolkata",  # +05:30, no DST
    "America/Sao_Paulo",  # changes at midnight until 2019
    "Africa/Casablanca",  # DST suspended for Ramadan (several changes a year)
    "Pacific/Apia",  # DST until 2021
    "America/St_Johns",  # -03:30 / -02:30
    "Asia/Tehran",  # +03:30, DST until 2022
]
PEOPLE = ["ann", "bob", "cid", "dee"]
PERSONS = {p: Person(name=p.title()) for p in PEOPLE}
# At least 2h: longer than any gap in these zones since 2015, so no turn vanishes (tested apart for 1h).
ROTATIONS = ["2h", "3h", "90m", "5h", "6h", "8h", "12h", "1d", "2d", "3d", "1w", "2w"]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
LO, HI = datetime(2015, 1, 1, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def transitions(name: str) -> list[datetime]:
    """The instants (2015-2035) where the zone's UTC offset changes, to the second."""
    tz = ZoneInfo(name)
    found: list[datetime] = []
    step = timedelta(hours=6)
    at = LO
    before = at.astimezone(tz).utcoffset()
    while at < HI:
        nxt = at + step
        after = nxt.astimezone(tz).utcoffset()
        if after != before:
            lo, hi = at, nxt
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == before:
                    lo = mid
                else:
                    hi = mid
            found.append(hi.replace(microsecond=0))
        at, before = nxt, after
    return found


@st.composite
def windows(draw: st.DrawFn, zone: str) -> tuple[datetime, datetime]:
    """A query window of 1 hour to 20 days, near an offset change half of the time."""
    changes = transitions(zone)
    if changes and draw(st.booleans()):
        center = draw(st.sampled_from(changes))
        start = center - timedelta(minutes=draw(st.integers(0, 6 * 1440)))
    else:
        start = LO + timedelta(minutes=draw(st.integers(0, 19 * 365 * 1440)))
    return start, start + timedelta(minutes=draw(st.integers(60, 20 * 1440)))


def clock(draw: st.DrawFn) -> str:
    return f"{draw(st.integers(0, 23)):02d}:{draw(st.sampled_from([0, 15, 30, 45])):02d}"


@st.composite
def layers(draw: st.DrawFn, window_start: datetime, zone: str, *, restricted: bool | None = None) -> Any:
    """A layer spec (as the platform file would hold it) that starts before or in the window."""
    tz = ZoneInfo(zone)
    begin = window_start - timedelta(minutes=draw(st.integers(-2 * 1440, 800 * 1440)))
    local = begin.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
    form = draw(st.sampled_from(["aware", "local", "date"]))
    start: Any = {
        "aware": begin.replace(second=0, microsecond=0).isoformat(),
        "local": local.isoformat(sep=" "),
        "date": local.date().isoformat(),
    }[form]
    spec: dict[str, Any] = {
        "name": f"l{draw(st.integers(0, 99))}",
        "start": start,
        "rotation": draw(st.sampled_from(ROTATIONS)),
        "members": draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=4, unique=True)),
    }
    if draw(st.booleans()):
        spec["handoff"] = clock(draw)
    if restricted if restricted is not None else draw(st.integers(0, 2)) == 0:
        spec["restrictions"] = [
            {
                "days": draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True)),
                "start": (s := clock(draw)),
                "end": draw(st.sampled_from(["24:00", clock(draw)]).filter(lambda e, s=s: e != s)),
            }
            for _ in range(draw(st.integers(1, 2)))
        ]
    return spec


def build(zone: str, layer_specs: Sequence[Any], overrides: Sequence[Override] = ()) -> Schedule:
    spec = ScheduleSpec.model_validate({"time_zone": zone, "layers": list(layer_specs)})
    return Schedule("s", spec, PERSONS, overrides)


def covering(shifts: list[Shift], at: datetime) -> Shift:
    return next(s for s in shifts if s.start <= at < s.end)


def assert_partition(shifts: list[Shift], start: datetime, end: datetime) -> None:
    assert shifts, "a non-empty window has at least one shift"
    assert shifts[0].start == start and shifts[-1].end == end
    for s in shifts:
        assert s.start < s.end, s
    for a, b in itertools.pairwise(shifts):
        assert a.end == b.start, (a, b)  # no gap, no overlap


def instants(draw: st.DrawFn, shifts: list[Shift], start: datetime, end: datetime) -> list[datetime]:
    span = int((end - start).total_seconds())
    chosen = [start + timedelta(seconds=draw(st.integers(0, span - 1))) for _ in range(10)]
    edges = [s.start for s in shifts] + [s.end - timedelta(microseconds=1) for s in shifts]
    return chosen + edges[:40]


@given(data=st.data(), zone=st.sampled_from(ZONES))
@SETTINGS
def test_shifts_partition_the_window_and_agree_with_who(data: st.DataObject, zone: str) -> None:
    start, end = data.draw(windows(zone))
    specs = [data.draw(layers(start, zone)) for _ in range(data.draw(st.integers(1, 3)))]
    for i, spec in enumerate(specs):
        spec["name"] = f"layer{i}"
    schedule = build(zone, specs)
    shifts = schedule.shifts(start, end)
    assert_partition(shifts, start, end)
    for at in instants(data.draw, shifts, start, end):
        shift = covering(shifts, at)
        assert schedule.on_call(at) == (shift.person, shift.source)
        assert [p.name for p in schedule.who(at)] == ([PERSONS[shift.person].name] if shift.person else [])


@given(data=st.data(), zone=st.sampled_from(ZONES))
@SETTINGS
def test_handoffs_happen_at_the_wall_clock_handoff_time(data: st.DataObject, zone: str) -> None:
    tz = ZoneInfo(zone)
    start, end = data.draw(windows(zone))
    spec = data.draw(layers(start, zone, restricted=False))
    schedule = build(zone, [spec])
    layer = schedule.layers[0]
    shifts = [s for s in schedule.shifts(start, end) if s.person is not None]
    rotation = layer.rotation
    # The grid, from the spec: the start's local date at the handoff time (else the start's wall time).
    local_start = layer.start.astimezone(tz).replace(tzinfo=None)
    if "handoff" in spec:
        hh, mm = map(int, spec["handoff"].split(":"))
        grid = datetime.combine(local_start.date(), time(hh, mm))
    else:
        grid = local_start
    members = spec["members"]
    for before, after in itertools.pairwise(shifts):
        boundary = after.start
        wall = boundary.astimezone(tz).replace(tzinfo=None)
        if (wall - grid) % rotation != timedelta(0):
            # The handoff's wall time did not exist: the boundary is the end of a gap that held a grid time.
            just_before = (boundary - timedelta(seconds=1)).astimezone(tz).replace(tzinfo=None)
            assert (
                boundary.astimezone(tz).utcoffset()
                != (boundary - timedelta(seconds=1)).astimezone(tz).utcoffset()
            ), f"handoff at {wall} is off the grid and not at an offset change"
            first_after = grid + ((just_before - grid) // rotation + 1) * rotation
            assert just_before < first_after < wall, (wall, grid, rotation)
        # Turns go round the members in order.
        assert members.index(after.person) == (members.index(before.person) + 1) % len(members)


@given(data=st.data(), zone=st.sampled_from(ZONES))
@SETTINGS
def test_the_first_turn_starts_at_the_layer_start_with_the_first_member(
    data: st.DataObject, zone: str
) -> None:
    start, _end = data.draw(windows(zone))
    spec = data.draw(layers(start, zone, restricted=False))
    schedule = build(zone, [spec])
    begin = schedule.layers[0].start
    shifts = schedule.shifts(begin - timedelta(hours=1), begin + timedelta(days=30))
    assert shifts[0].person is None and shifts[0].end == begin
    assert shifts[1].start == begin and shifts[1].person == spec["members"][0]


@given(data=st.data(), zone=st.sampled_from(ZONES))
@SETTINGS
def test_higher_layers_win_and_overrides_win_over_layers(data: st.DataObject, zone: str) -> None:
    start, end = data.draw(windows(zone))
    specs = [data.draw(layers(start, zone)) for _ in range(data.draw(st.integers(2, 3)))]
    for i, spec in enumerate(specs):
        spec["name"] = f"layer{i}"
    span = int((end - start).total_seconds())
    overrides = []
    for i in range(data.draw(st.integers(0, 3))):
        a = start + timedelta(seconds=data.draw(st.integers(-3600, span)))
        b = a + timedelta(seconds=data.draw(st.integers(60, span + 3600)))
        overrides.append(Override(start=a, end=b, person=data.draw(st.sampled_from(PEOPLE)), ref=str(i)))
    schedule = build(zone, specs, overrides)
    singles = [build(zone, [spec]) for spec in specs]
    shifts = schedule.shifts(start, end)
    assert_partition(shifts, start, end)
    for at in instants(data.draw, shifts, start, end):
        active = [o for o in overrides if o.start <= at < o.end]
        if active:
            expected = (active[-1].person, f"override:{active[-1].ref}")
        else:
            below = [(s.on_call(at)[0], s.layers[0].name) for s in reversed(singles)]
            expected = next(((p, f"layer:{n}") for p, n in below if p is not None), (None, "uncovered"))
        assert schedule.on_call(at) == expected
        shift = covering(shifts, at)
        assert (shift.person, shift.source) == expected


def _in_window(local: datetime, restrictions: list[dict[str, Any]]) -> bool:
    minutes = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6
    today, yesterday = DAYS[local.weekday()], DAYS[(local.weekday() - 1) % 7]
    for r in restrictions:
        s = int(r["start"][:2]) * 60 + int(r["start"][3:])
        e = 1440 if r["end"] == "24:00" else int(r["end"][:2]) * 60 + int(r["end"][3:])
        if s < e and today in r["days"] and s <= minutes < e:
            return True
        if e <= s and ((today in r["days"] and minutes >= s) or (yesterday in r["days"] and minutes < e)):
            return True
    return False


@given(data=st.data(), zone=st.sampled_from(ZONES))
@SETTINGS
def test_a_restricted_layer_is_on_call_only_inside_its_windows(data: st.DataObject, zone: str) -> None:
    tz = ZoneInfo(zone)
    start, end = data.draw(windows(zone))
    spec = data.draw(layers(start, zone, restricted=True))
    schedule = build(zone, [spec])
    layer_start = schedule.layers[0].start
    shifts = schedule.shifts(start, end)
    assert_partition(shifts, start, end)
    for at in instants(data.draw, shifts, start, end):
        local = at.astimezone(tz)
        if at < layer_start or local.fold == 1:
            continue  # before the layer; or the second pass of a repeated hour, where wall time is ambiguous
        inside = _in_window(local.replace(tzinfo=None), spec["restrictions"])
        assert (schedule.on_call(at)[0] is not None) == inside, (local, spec["restrictions"])


@given(data=st.data(), zone=st.sampled_from(ZONES))
@SETTINGS
def test_restrictions_do_not_change_whose_turn_it_is(data: st.DataObject, zone: str) -> None:
    start, end = data.draw(windows(zone))
    spec = data.draw(layers(start, zone, restricted=True))
    free = {k: v for k, v in spec.items() if k != "restrictions"}
    restricted, unrestricted = build(zone, [spec]), build(zone, [free])
    for shift in restricted.shifts(start, end):
        if shift.person is not None:
            assert unrestricted.on_call(shift.start)[0] == shift.person
            assert unrestricted.on_call(shift.end - timedelta(microseconds=1))[0] == shift.person


def test_every_zone_has_offset_changes_to_draw_from_except_the_fixed_ones() -> None:
    fixed = {z for z in ZONES if not transitions(z)}
    assert fixed == {"UTC", "Asia/Kolkata"}
    assert date(2026, 3, 29) in {t.date() for t in transitions("Europe/Berlin")}
