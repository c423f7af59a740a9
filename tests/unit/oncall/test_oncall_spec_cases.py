"""Schedules as data (tests/spec/oncall/shifts.yaml) and on-call platform-file mistakes (config/, errors.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tiation.config.loader import load_platform
from tiation.config.oncall import Person, ScheduleSpec
from tiation.errors import ConfigError
from tiation.oncall.schedules import Schedule
from tiation.oncall.times import parse_time

SPEC = Path(__file__).parents[2] / "spec" / "oncall"
SHIFTS: dict[str, Any] = YAML(typ="safe").load((SPEC / "shifts.yaml").read_text(encoding="utf-8"))
ERRORS: dict[str, str] = YAML(typ="safe").load((SPEC / "errors.yaml").read_text(encoding="utf-8"))
PEOPLE = {p: Person(name=p.title()) for p in ("ann", "bob", "cid")}
NOW = datetime(2026, 1, 1, tzinfo=UTC)  # only relative times would use it; the cases use none


@pytest.mark.parametrize("name", sorted(SHIFTS))
def test_schedule_gives_exactly_its_shifts(name: str) -> None:
    case = SHIFTS[name]
    schedule = Schedule(name, ScheduleSpec.model_validate(case["schedule"]), PEOPLE)
    start = parse_time(case["from"], schedule.tz, NOW)
    end = parse_time(case["to"], schedule.tz, NOW)
    got = [
        [
            s.start.astimezone(schedule.tz).isoformat(timespec="minutes"),
            s.end.astimezone(schedule.tz).isoformat(timespec="minutes"),
            s.person,
            s.source,
        ]
        for s in schedule.shifts(start, end)
    ]
    assert got == case["shifts"], case["about"]
    for s in schedule.shifts(start, end):  # `who` agrees at both ends of every shift
        assert schedule.on_call(s.start) == (s.person, s.source)


def test_every_config_case_has_an_expectation() -> None:
    files = sorted(p.name for p in (SPEC / "config").glob("*.yaml"))
    assert files == sorted([*ERRORS, "valid.yaml"])


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_config_case_gives_its_one_line_error(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SPEC / "config")
    with pytest.raises(ConfigError) as caught:
        load_platform(Path(name))
    assert str(caught.value) == ERRORS[name]
    assert caught.value.exit_code == 2


def test_the_valid_case_loads_with_every_feature(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SPEC / "config")
    platform = load_platform(Path("valid.yaml")).platform
    main = platform.oncall.schedules["main"]
    assert [layer.name for layer in main.layers] == ["weekly", "cover"]
    assert [r.days for r in main.layers[0].restrictions] == [["mon", "fri"], ["sat"]]
    assert main.overrides[0].person == "ann" and main.overrides[0].reason == "swap"
    assert platform.people["bob"].time_zone == "Europe/Berlin"
