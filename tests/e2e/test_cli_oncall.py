"""`tiation oncall` through the real CLI against a copy of the example platform file (SQLite and PostgreSQL
state). On-call commands start no services, so only the platform file is copied (no `tiation stop` needed)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from icalendar import Calendar

from fixtures.common import our_processes
from fixtures.eco import EXAMPLE, Eco


@pytest.fixture
def eco(tmp_path: Path) -> Iterator[Eco]:
    shutil.copy(EXAMPLE / "tiation.yaml", tmp_path / "tiation.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIATION_") and k != "PYTEST_CURRENT_TEST"}
    env.update(TIATION_FILE=str(tmp_path / "tiation.yaml"), TIATION_ACTOR="alice")
    yield Eco(tmp_path, env)
    assert not our_processes(tmp_path)


def test_who_show_and_ical_agree_across_the_spring_change(eco: Eco) -> None:
    who = eco.tiation("oncall", "who", "--at", "2026-03-30T07:30:00Z", "--json").json()["on_call"]
    assert [(w["schedule"], w["person"], w["source"]) for w in who] == [
        ("platform-business-hours", "primary-engineer", "layer:office-hours"),
        ("primary-oncall", "primary-engineer", "layer:weekly"),
    ]
    office = who[0]
    assert (office["start_local"], office["end_local"]) == (
        "2026-03-30T09:00:00+02:00",
        "2026-03-30T17:00:00+02:00",
    )

    shown = eco.tiation(
        "oncall", "show", "platform-business-hours", "--from", "2026-03-27", "--to", "+4d", "--json"
    ).json()
    assert shown["time_zone"] == "Europe/Berlin"
    covered = [(s["start_local"], s["person"]) for s in shown["shifts"] if s["person"]]
    assert covered == [
        ("2026-03-27T09:00:00+01:00", "platform-engineer"),
        ("2026-03-30T09:00:00+02:00", "primary-engineer"),
    ]
    assert shown["shifts"][0]["person"] is None  # the night before is uncovered, and shown as such
    assert all(a["end"] == b["start"] for a, b in zip(shown["shifts"], shown["shifts"][1:], strict=False))

    table = eco.tiation("oncall", "show", "platform-business-hours", "--from", "2026-03-27", "--to", "+4d")
    assert "2026-03-30 09:00 CEST" in table.stdout and "2026-03-30 07:00Z" in table.stdout
    assert "Platform Team Lead (platform-engineer)" in table.stdout and "uncovered" in table.stdout

    out = eco.root / "office.ics"
    eco.tiation(
        "oncall", "ical", "platform-business-hours", "--from", "2026-03-27", "--to", "+4d", "--out", str(out)
    )
    events = [
        (e.decoded("dtstart"), str(e.get("summary")))
        for e in Calendar.from_ical(out.read_bytes()).walk("VEVENT")
    ]
    assert events == [
        (datetime.fromisoformat(s["start"]), f"On call: {s['name']} (platform-business-hours)")
        for s in shown["shifts"]
        if s["person"]
    ]
    stdout = eco.tiation("oncall", "ical", "primary-oncall", "--from", "2024-01-01T00:00:00Z", "--to", "+1w")
    assert (
        stdout.stdout.startswith("BEGIN:VCALENDAR")
        and "On call: Primary Engineer (primary-oncall)" in stdout.stdout
    )


def test_overrides_are_added_listed_removed_and_audited(eco: Eco) -> None:
    at = "2026-06-10T12:00:00Z"
    before = eco.tiation("oncall", "who", "primary-oncall", "--at", at, "--json").json()["on_call"][0]
    added = eco.tiation(
        "oncall", "override", "add", "primary-oncall", "--person", "platform-engineer",
        "--start", "2026-06-10 08:00", "--end", "+8h", "--reason", "dentist", "--json",
    ).json()["override"]  # fmt: skip
    assert (added["start"], added["end"]) == ("2026-06-10T08:00:00+00:00", "2026-06-10T16:00:00+00:00")
    during = eco.tiation("oncall", "who", "primary-oncall", "--at", at, "--json").json()["on_call"][0]
    assert (during["person"], during["source"]) == ("platform-engineer", f"override:{added['id']}")
    assert before["person"] != "platform-engineer"

    listed = eco.tiation("oncall", "override", "list", "--all", "--json").json()["overrides"]
    assert [(o["id"], o["person"], o["actor"], o["reason"]) for o in listed] == [
        (added["id"], "platform-engineer", "alice", "dentist")
    ]
    eco.tiation("oncall", "override", "remove", str(added["id"]))
    after = eco.tiation("oncall", "who", "primary-oncall", "--at", at, "--json").json()["on_call"][0]
    assert after["person"] == before["person"]

    audit = eco.tiation("audit", "--json").json()["events"]
    actions = [(e["action"], e["actor"], e["details"]["person"], e["details"]["schedule"]) for e in audit]
    assert actions == [
        ("oncall.override.add", "alice", "platform-engineer", "primary-oncall"),
        ("oncall.override.remove", "alice", "platform-engineer", "primary-oncall"),
    ]


def test_mistakes_are_one_line_errors_with_exit_2(eco: Eco) -> None:
    cases = [
        (("oncall", "who", "primary-oncal"), "error: unknown schedule 'primary-oncal' (did you mean"),
        (("oncall", "show", "primary-oncall", "--from", "soon"), "error: --from: expected 'now'"),
        (
            ("oncall", "override", "add", "primary-oncall", "--person", "nobody", "--start", "now", "--end", "+1h"),
            "error: unknown person 'nobody'",
        ),
        (
            ("oncall", "override", "add", "primary-oncall", "--person", "primary-engineer", "--start", "+2h",
             "--end", "-1h"),
            "error: an override must end after it starts",
        ),
        (("oncall", "override", "remove", "99"), "error: no on-call override with id 99"),
    ]  # fmt: skip
    for args, message in cases:
        run = eco.tiation(*args, expect=2)
        assert run.stderr.startswith(message), run.stderr
        assert run.stderr.count("\n") == 1 and run.stdout == ""
    eco.edit(
        "members: [platform-engineer, primary-engineer]", "members: [platform-engineer, primary-enginer]"
    )
    run = eco.tiation("validate", expect=2)
    assert "tiation.yaml:" in run.stderr
    assert (
        "oncall.schedules.platform-business-hours.layers[0].members[1]: unknown person 'primary-enginer' "
        "(did you mean 'primary-engineer'?)"
    ) in run.stderr


def test_overrides_with_state_in_postgres(eco: Eco, postgres_url: str) -> None:
    state = ("--state", postgres_url)
    added = eco.tiation(
        *state, "oncall", "override", "add", "primary-oncall", "--person", "secondary-engineer",
        "--start", "2026-07-01T00:00:00Z", "--end", "+1d", "--json",
    ).json()["override"]  # fmt: skip
    who = eco.tiation(*state, "oncall", "who", "primary-oncall", "--at", "2026-07-01T12:00:00Z", "--json")
    assert who.json()["on_call"][0]["source"] == f"override:{added['id']}"
    listed = eco.tiation(*state, "oncall", "override", "list", "--all", "--json").json()["overrides"]
    assert [o["id"] for o in listed] == [added["id"]]
    eco.tiation(*state, "oncall", "override", "remove", str(added["id"]))
    assert [e["action"] for e in eco.tiation(*state, "audit", "--json").json()["events"]] == [
        "oncall.override.add",
        "oncall.override.remove",
    ]
    assert not (eco.root / ".tiation" / "state.db").exists()
