"""Command-line times, and the iCalendar export parsed back with the icalendar library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from tiation.config.oncall import Person, ScheduleSpec
from tiation.errors import UsageError
from tiation.oncall.ical import ical_for, shift_uid
from tiation.oncall.schedules import Schedule
from tiation.oncall.times import parse_range, parse_time

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)


def test_times_in_every_accepted_form() -> None:
    assert parse_time("now", BERLIN, NOW) == NOW
    assert parse_time("+1d", BERLIN, NOW) == NOW + timedelta(days=1)
    assert parse_time("-2h30m", BERLIN, NOW) == NOW - timedelta(hours=2, minutes=30)
    assert parse_time("2026-03-29T09:00:00Z", BERLIN, NOW) == datetime(2026, 3, 29, 9, tzinfo=UTC)
    assert parse_time("2026-03-29T09:00+05:30", BERLIN, NOW) == datetime(2026, 3, 29, 3, 30, tzinfo=UTC)
    # No offset: wall-clock time in the schedule's zone (CEST from 03:00 that day; 02:30 does not exist).
    assert parse_time("2026-03-29 09:00", BERLIN, NOW) == datetime(2026, 3, 29, 7, tzinfo=UTC)
    assert parse_time("2026-03-29 02:30", BERLIN, NOW) == datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert parse_time("2026-03-29", BERLIN, NOW) == datetime(2026, 3, 28, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tomorrow", "--at: expected 'now', '+1d'"),
        ("+1x", "--at: expected 'now'"),
        ("0001-01-01", "--at: the year must be from 1900 to 2999"),
        ("9999-12-31T00:00:00Z", "--at: the year must be from 1900 to 2999"),
    ],
)
def test_bad_times_are_one_line_usage_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_time(text, BERLIN, NOW, what="--at")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_ranges_default_count_relative_ends_from_the_start_and_are_bounded() -> None:
    assert parse_range(None, None, BERLIN, NOW) == (NOW, NOW + timedelta(days=14))
    lo, hi = parse_range("2026-01-01T00:00:00Z", "+2w", BERLIN, NOW)
    assert hi - lo == timedelta(weeks=2) and lo.year == 2026
    with pytest.raises(UsageError, match="--to must be after --from"):
        parse_range("+1d", "now", BERLIN, NOW)
    with pytest.raises(UsageError, match="at most 400 days"):
        parse_range("2026-01-01", "2027-06-01", BERLIN, NOW)


# -- iCal ----------------------------------------------------------------------------------------------


def _schedule() -> Schedule:
    spec = ScheduleSpec.model_validate(
        {
            "time_zone": "Europe/Berlin",
            "layers": [
                {
                    "name": "office",
                    "start": "2026-03-16",
                    "rotation": "1w",
                    "handoff": "09:00",
                    "members": ["ann", "bob"],
                    "restrictions": [
                        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}
                    ],
                }
            ],
        }
    )
    return Schedule("biz", spec, {"ann": Person(name="Ann Example"), "bob": Person(name="Bob Example")})


def test_ical_events_are_the_covered_shifts_in_utc() -> None:
    schedule = _schedule()
    start, end = datetime(2026, 3, 26, 12, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC)
    cal = Calendar.from_ical(ical_for(schedule, start, end))
    events = [
        (
            e.decoded("dtstart"),
            e.decoded("dtend"),
            str(e.get("summary")),
            str(e.get("uid")),
        )
        for e in cal.walk("VEVENT")
    ]
    covered = [s for s in schedule.whole_shifts(start, end) if s.person is not None]
    names = {"ann": "Ann Example", "bob": "Bob Example"}
    assert events == [
        (s.start, s.end, f"On call: {names[s.person]} (biz)", shift_uid("biz", s))
        for s in covered
        if s.person
    ]
    assert len(events) == 5  # Thu, Fri, Mon, Tue, Wed office hours; nights and the weekend are uncovered
    assert all(e[0].tzinfo is not None and e[0].utcoffset() == timedelta(0) for e in events)
    # The first shift started before the range (09:00 CET = 08:00Z on the 26th): exported whole.
    assert events[0][0] == datetime(2026, 3, 26, 8, tzinfo=UTC)
    assert events[2][0] == datetime(2026, 3, 30, 7, tzinfo=UTC)  # 09:00 CEST after the change


def test_ical_uids_are_stable_across_requests_and_the_bytes_repeat() -> None:
    schedule = _schedule()
    a = ical_for(schedule, datetime(2026, 3, 26, 12, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    b = ical_for(schedule, datetime(2026, 3, 27, 10, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC))
    uids_a = {str(e.get("uid")) for e in Calendar.from_ical(a).walk("VEVENT")}
    uids_b = {str(e.get("uid")) for e in Calendar.from_ical(b).walk("VEVENT")}
    assert "biz-20260327T080000Z-bob@tiation" in uids_a & uids_b
    assert ical_for(
        schedule, datetime(2026, 3, 26, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)
    ) == ical_for(schedule, datetime(2026, 3, 26, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    calendar = Calendar.from_ical(a)
    assert str(calendar.get("x-wr-calname")) == "On call: biz"
