"""`tiation oncall who|show|ical|override`: who is on call, the shifts, a calendar feed, and overrides.

Times (`--at`, `--from`, `--to`, `--start`, `--end`) are `now`, `+1d`/`-2h` from now, an ISO date-time with an
offset, or a date-time / date without one, which is read in the schedule's time zone.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tiation.cli.context import AppContext
from tiation.cli.output import Output

if TYPE_CHECKING:
    from tiation.oncall.schedules import Schedule, Shift
    from tiation.state.oncall import OverrideRow

_JSON = click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")


def _local(at: datetime, schedule: Schedule) -> str:
    return f"{at.astimezone(schedule.tz):%Y-%m-%d %H:%M %Z}"


def _utc(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%MZ}"


def _shift_json(schedule: Schedule, shift: Shift) -> dict[str, Any]:
    person = schedule.people.get(shift.person) if shift.person else None
    return {
        "start": shift.start.isoformat(),
        "end": shift.end.isoformat(),
        "start_local": shift.start.astimezone(schedule.tz).isoformat(),
        "end_local": shift.end.astimezone(schedule.tz).isoformat(),
        "person": shift.person,
        "name": person.name if person else None,
        "source": shift.source,
    }


def _person(schedule: Schedule, shift: Shift) -> str:
    if shift.person is None:
        return "nobody (uncovered)"
    return f"{schedule.people[shift.person].name} ({shift.person})"


def _override_json(row: OverrideRow) -> dict[str, Any]:
    return row.describe()


@click.group()
def oncall() -> None:
    """On-call schedules: who is on call, shifts across daylight-saving changes, overrides, iCal."""


@oncall.command("who")
@click.argument("schedule", required=False)
@click.option("--at", "at_text", metavar="TIME", help="When (default now).")
@_JSON
@click.pass_obj
def who(app: AppContext, schedule: str | None, at_text: str | None, json_mode: bool) -> None:
    """Who is on call for SCHEDULE (default: every schedule) now or --at TIME."""
    from tiation.oncall.service import load_schedule
    from tiation.oncall.times import parse_time

    out = Output(json_mode=json_mode)
    platform = app.loaded().platform
    now = app.clock.now()
    names = [schedule] if schedule else sorted(platform.oncall.schedules)
    found: list[tuple[Schedule, datetime, Shift]] = []
    for name in names:
        bare = load_schedule(platform, name)
        at = parse_time(at_text, bare.tz, now, what="--at") if at_text else now
        sched = load_schedule(platform, name, app.store(), start=at - bare.horizon(), end=at + bare.horizon())
        found.append((sched, at, sched.current(at)))
    out.data(
        {
            "on_call": [
                {"schedule": sched.name, "at": at.isoformat(), **_shift_json(sched, shift)}
                for sched, at, shift in found
            ]
        }
    )
    if not found:
        out.line("no on-call schedules in the platform file")
        return
    out.table(
        ["schedule", "on call", "since", "until", "source"],
        [
            [
                sched.name,
                _person(sched, shift),
                _local(shift.start, sched),
                _local(shift.end, sched),
                shift.source,
            ]
            for sched, _at, shift in found
        ],
    )


@oncall.command("show")
@click.argument("schedule")
@click.option("--from", "start", metavar="TIME", help="Start (default now).")
@click.option(
    "--to", "end", metavar="TIME", help="End ('+2w': after --from; default 14 days after it; at most 400)."
)
@_JSON
@click.pass_obj
def show(app: AppContext, schedule: str, start: str | None, end: str | None, json_mode: bool) -> None:
    """The shifts of SCHEDULE from --from to --to, in the schedule's zone and in UTC."""
    from tiation.oncall.service import load_schedule
    from tiation.oncall.times import parse_range

    out = Output(json_mode=json_mode)
    platform = app.loaded().platform
    bare = load_schedule(platform, schedule)
    lo, hi = parse_range(start, end, bare.tz, app.clock.now())
    sched = load_schedule(platform, schedule, app.store(), start=lo, end=hi)
    shifts = sched.shifts(lo, hi)
    out.data(
        {
            "schedule": schedule,
            "time_zone": sched.tz.key,
            "from": lo.isoformat(),
            "to": hi.isoformat(),
            "shifts": [_shift_json(sched, s) for s in shifts],
        }
    )
    out.table(
        [f"start ({sched.tz.key})", "end", "start (UTC)", "end (UTC)", "person", "source"],
        [
            [
                _local(s.start, sched),
                _local(s.end, sched),
                _utc(s.start),
                _utc(s.end),
                _person(sched, s),
                s.source,
            ]
            for s in shifts
        ],
        title=f"{schedule}: {len(shifts)} shifts",
    )


@oncall.command("ical")
@click.argument("schedule")
@click.option("--from", "start", metavar="TIME", help="Start (default 7 days ago).")
@click.option("--to", "end", metavar="TIME", help="End ('+2w': after --from; default 90 days after it).")
@click.option("--out", "out_file", metavar="FILE", type=click.Path(dir_okay=False), help="Write here.")
@click.pass_obj
def ical(app: AppContext, schedule: str, start: str | None, end: str | None, out_file: str | None) -> None:
    """SCHEDULE's shifts as an iCalendar feed (stdout, or --out FILE)."""
    from tiation.oncall.ical import ical_for
    from tiation.oncall.service import load_schedule
    from tiation.oncall.times import parse_range
    from tiation.redact import redact

    platform = app.loaded().platform
    bare = load_schedule(platform, schedule)
    now = app.clock.now()
    lo, hi = parse_range(
        start, end, bare.tz, now, default_start=-timedelta(days=7), default_length=timedelta(days=90)
    )
    margin = bare.horizon()
    sched = load_schedule(platform, schedule, app.store(), start=lo - margin, end=hi + margin)
    data = redact(ical_for(sched, lo, hi, stamp=now).decode()).encode()
    if out_file is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    Path(out_file).write_bytes(data)
    Output().line(f"wrote {out_file} ({data.count(b'BEGIN:VEVENT')} shifts of {schedule})")


@oncall.group("override")
def override() -> None:
    """Overrides stored in the state store: someone on call instead of the layers (audited)."""


@override.command("add")
@click.argument("schedule")
@click.option("--person", required=True, help="Who is on call (a name under `people:`).")
@click.option("--start", "start", required=True, metavar="TIME", help="From when.")
@click.option("--end", "end", required=True, metavar="TIME", help="Until when ('+8h': after --start).")
@click.option("--reason", default="", help="Why (kept with the override and in the audit log).")
@_JSON
@click.pass_obj
def override_add(
    app: AppContext, schedule: str, person: str, start: str, end: str, reason: str, json_mode: bool
) -> None:
    """Put PERSON on call for SCHEDULE from --start to --end (audited)."""
    from tiation.oncall.service import add_override, load_schedule
    from tiation.oncall.times import is_relative, parse_time

    out = Output(json_mode=json_mode)
    platform = app.loaded().platform
    tz = load_schedule(platform, schedule).tz
    now = app.clock.now()
    begin = parse_time(start, tz, now, what="--start")
    row = add_override(
        platform,
        app.store(),
        schedule=schedule,
        person=person,
        start=begin,
        end=parse_time(end, tz, begin if is_relative(end) else now, what="--end"),
        actor=app.who(),
        reason=reason,
    )
    out.data({"override": _override_json(row)})
    out.line(
        f"override {row.id}: {person} on call for {schedule} from {_utc(row.start)} to {_utc(row.end)} "
        "(audited)"
    )


@override.command("list")
@click.argument("schedule", required=False)
@click.option("--all", "show_all", is_flag=True, help="Include overrides that have ended.")
@_JSON
@click.pass_obj
def override_list(app: AppContext, schedule: str | None, show_all: bool, json_mode: bool) -> None:
    """Stored overrides (of SCHEDULE) that have not ended yet, oldest first."""
    from tiation.oncall.service import require_schedule

    out = Output(json_mode=json_mode)
    if schedule is not None:
        require_schedule(app.loaded().platform, schedule)
    with app.store().read("list on-call overrides") as uow:
        rows = uow.overrides.find(schedule=schedule, ending_after=None if show_all else app.clock.now())
    out.data({"overrides": [_override_json(r) for r in rows]})
    if not rows:
        out.line("no overrides" + (f" for {schedule}" if schedule else ""))
        return
    out.table(
        ["id", "schedule", "person", "start (UTC)", "end (UTC)", "by", "reason"],
        [[r.id, r.schedule, r.person, _utc(r.start), _utc(r.end), r.actor, r.reason] for r in rows],
    )


@override.command("remove")
@click.argument("override_id", metavar="ID", type=int)
@_JSON
@click.pass_obj
def override_remove(app: AppContext, override_id: int, json_mode: bool) -> None:
    """Delete the stored override ID (audited)."""
    from tiation.oncall.service import remove_override

    out = Output(json_mode=json_mode)
    row = remove_override(app.store(), override_id, actor=app.who())
    out.data({"removed": _override_json(row)})
    out.line(f"removed override {row.id} ({row.person} on call for {row.schedule}, audited)")
