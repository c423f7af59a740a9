"""Schedules by example: wall-clock rules, the example platform file, misuse, and the cost of `who`."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tiation.config.loader import load_platform
from tiation.config.oncall import Person, ScheduleSpec, localize
from tiation.oncall.schedules import Layer, Override, Schedule

EXAMPLE = Path(__file__).parents[3] / "examples" / "ecosystem" / "tiation.yaml"
BERLIN = ZoneInfo("Europe/Berlin")
PEOPLE = {p: Person(name=p.title()) for p in ("ann", "bob", "cid")}


def schedule(zone: str = "Europe/Berlin", **layer: Any) -> Schedule:
    spec = {
        "name": "main",
        "start": "2024-01-01",
        "rotation": "1w",
        "members": ["ann", "bob", "cid"],
        **layer,
    }
    return Schedule("s", ScheduleSpec.model_validate({"time_zone": zone, "layers": [spec]}), PEOPLE)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- localize ------------------------------------------------------------------------------------------


def test_localize_moves_a_time_in_the_gap_to_the_end_of_the_gap() -> None:
    assert localize(datetime(2026, 3, 29, 2, 30), BERLIN) == utc(2026, 3, 29, 1, 0)  # 03:00 CEST
    assert localize(datetime(2026, 3, 29, 2, 0), BERLIN) == utc(2026, 3, 29, 1, 0)
    assert localize(datetime(2026, 3, 29, 1, 59), BERLIN) == utc(2026, 3, 29, 0, 59)


def test_localize_takes_the_first_of_a_repeated_time() -> None:
    assert localize(datetime(2026, 10, 25, 2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)  # 02:30 CEST


def test_localize_refuses_an_aware_time() -> None:
    with pytest.raises(ValueError, match="naive"):
        localize(datetime(2026, 1, 1, tzinfo=UTC), BERLIN)


# -- semantics -----------------------------------------------------------------------------------------


def test_weekly_berlin_handoff_is_nine_local_on_both_dst_weekends() -> None:
    s = schedule(start="2026-03-16", handoff="09:00")
    handoffs = [sh.start for sh in s.shifts(utc(2026, 3, 1), utc(2026, 11, 30))][1:]
    assert all(h.astimezone(BERLIN).strftime("%a %H:%M") == "Mon 09:00" for h in handoffs)
    # The UTC length of the turns across 2026-03-29 and 2026-10-25 differs by an hour.
    lengths = {
        (h.astimezone(BERLIN).date().isoformat(), (nxt - h) // timedelta(hours=1))
        for h, nxt in itertools.pairwise(handoffs)
    }
    assert ("2026-03-23", 167) in lengths and ("2026-10-19", 169) in lengths
    assert ("2026-04-06", 168) in lengths


def test_who_returns_people_and_agrees_with_current() -> None:
    s = schedule(start="2026-03-16", handoff="09:00")
    at = utc(2026, 3, 30, 6, 59)  # 08:59 CEST: still the second week's member
    assert s.who(at) == [PEOPLE["bob"]]
    assert s.who(at + timedelta(minutes=1)) == [PEOPLE["cid"]]
    shift = s.current(at)
    assert (shift.person, shift.start, shift.end) == ("bob", utc(2026, 3, 23, 8), utc(2026, 3, 30, 7))


def test_nobody_is_on_call_before_a_layer_starts_or_after_it_ends() -> None:
    s = schedule(start="2026-01-05", end="2026-01-19")
    assert s.who(utc(2026, 1, 4, 22)) == []
    assert s.who(utc(2026, 1, 4, 23)) == [PEOPLE["ann"]]  # 00:00 CET
    assert s.who(utc(2026, 1, 18, 22, 59)) == [PEOPLE["bob"]]
    assert s.who(utc(2026, 1, 18, 23)) == []


def test_stored_overrides_come_after_file_overrides_and_win() -> None:
    spec = ScheduleSpec.model_validate(
        {
            "layers": [{"name": "w", "start": "2026-01-05", "rotation": "1w", "members": ["ann"]}],
            "overrides": [{"start": "2026-01-06", "end": "2026-01-08", "person": "bob"}],
        }
    )
    stored = Override(start=utc(2026, 1, 7), end=utc(2026, 1, 7, 6), person="cid", ref="12")
    s = Schedule("s", spec, PEOPLE).with_overrides([stored])
    assert s.on_call(utc(2026, 1, 6, 12)) == ("bob", "override:file:0")
    assert s.on_call(utc(2026, 1, 7, 3)) == ("cid", "override:12")
    assert s.on_call(utc(2026, 1, 8)) == ("ann", "layer:w")
    assert Schedule("s", spec, PEOPLE).on_call(utc(2026, 1, 7, 3)) == ("bob", "override:file:0")


def test_shifts_of_an_empty_interval_are_none() -> None:
    assert schedule().shifts(utc(2026, 1, 2), utc(2026, 1, 1)) == []


def test_naive_times_are_refused() -> None:
    s = schedule()
    with pytest.raises(ValueError, match="naive"):
        s.who(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        s.shifts(datetime(2026, 1, 1), utc(2026, 1, 2))
    with pytest.raises(ValueError, match="end after it starts"):
        Override(start=utc(2026, 1, 2), end=utc(2026, 1, 1), person="ann", ref="1")


# -- the example platform file -------------------------------------------------------------------------


def test_the_examples_seed_rotation_goes_round_the_three_weekly_in_utc() -> None:
    platform = load_platform(EXAMPLE).platform
    s = Schedule("primary-oncall", platform.oncall.schedules["primary-oncall"], platform.people)
    weeks = [s.who(utc(2024, 1, 1) + timedelta(weeks=w))[0].name for w in range(4)]
    assert weeks == ["Primary Engineer", "Secondary Engineer", "Platform Team Lead", "Primary Engineer"]
    assert s.who(utc(2023, 12, 31, 23, 59)) == []


def test_the_examples_business_hours_keep_to_berlin_office_time() -> None:
    platform = load_platform(EXAMPLE).platform
    s = Schedule("b", platform.oncall.schedules["platform-business-hours"], platform.people)
    assert s.who(utc(2026, 3, 30, 6, 59)) == []  # 08:59 CEST Monday
    assert s.who(utc(2026, 3, 30, 7, 0)) != []  # 09:00 CEST
    assert s.who(utc(2026, 3, 27, 15, 59)) != []  # 16:59 CET Friday
    assert s.who(utc(2026, 3, 28, 12)) == []  # Saturday


# -- cost ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer",
    [
        {"rotation": "1w", "handoff": "09:00"},
        {"rotation": "12h", "handoff": "08:00"},
        {"rotation": "1h"},
        {"rotation": "1d", "restrictions": [{"days": ["mon", "tue"], "start": "09:00", "end": "17:00"}]},
    ],
)
def test_who_on_a_two_year_old_schedule_computes_a_few_handoffs_not_every_turn(
    layer: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    s = schedule(zone="America/New_York", start="2024-03-01", **layer)
    calls = []
    original = Layer.handoff

    def counting(self: Layer, k: int) -> datetime:
        calls.append(k)
        return original(self, k)

    monkeypatch.setattr(Layer, "handoff", counting)
    for at in (utc(2026, 3, 8, 7), utc(2026, 3, 8, 6, 59), utc(2026, 11, 1, 5, 30), utc(2026, 6, 1, 14)):
        calls.clear()
        s.who(at)
        assert len(calls) <= 6, (at, len(calls))
