"""A schedule's shifts as an iCalendar feed (RFC 5545), for calendar apps to subscribe to.

One VEVENT per covered shift (uncovered time has no event): DTSTART/DTEND in UTC, SUMMARY
`On call: <person's name> (<schedule>)`, and a UID stable per (schedule, shift start, person), so a calendar that
refreshes the feed updates events instead of duplicating them. Shifts that cross the requested range are
exported whole (see `Schedule.whole_shifts`), so the UID of the first event does not move with the range.
`ical_for` is what `tiation oncall ical` writes and what the server serves at `/api/v1/oncall/NAME.ics`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar, Event  # type: ignore[import-untyped]

from tiation.oncall.schedules import Schedule, Shift

MEDIA_TYPE = "text/calendar; charset=utf-8"


def shift_uid(schedule: str, shift: Shift) -> str:
    """The event UID of a shift: the same schedule, start and person always give the same UID."""
    return f"{schedule}-{shift.start.astimezone(UTC):%Y%m%dT%H%M%SZ}-{shift.person or 'nobody'}@tiation"


def ical_for(schedule: Schedule, start: datetime, end: datetime, *, stamp: datetime | None = None) -> bytes:
    """The calendar of `schedule`'s shifts overlapping [start, end). DTSTAMP is `stamp` (default `start`) so
    the same question gives the same bytes."""
    cal = Calendar()
    cal.add("prodid", "-//tiation//on-call schedules//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"On call: {schedule.name}")
    cal.add("x-wr-timezone", schedule.tz.key)
    dtstamp = (stamp or start).astimezone(UTC)
    for shift in schedule.whole_shifts(start, end):
        if shift.person is None:
            continue
        person = schedule.people[shift.person]
        event = Event()
        event.add("uid", shift_uid(schedule.name, shift))
        event.add("dtstamp", dtstamp)
        event.add("dtstart", shift.start.astimezone(UTC))
        event.add("dtend", shift.end.astimezone(UTC))
        event.add("summary", f"On call: {person.name} ({schedule.name})")
        event.add("description", f"{shift.person} ({shift.source})")
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return bytes(cal.to_ical())
