"""Overrides in a real SQLite state store: add, list, remove, each audited; checks before storing; schedules
that include them. (The same table on PostgreSQL: tests/e2e/test_cli_oncall.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from tiation.clock import FakeClock
from tiation.config.loader import load_platform
from tiation.config.models import Platform
from tiation.errors import StateError, UsageError
from tiation.oncall.service import add_override, load_schedule, load_schedules, remove_override
from tiation.state import StateStore

PLATFORM = """\
version: 1
project: {name: shop}
environments: {dev: {target: fake}}
services: {web: {port: 5000}}
people:
  ann: {name: Ann}
  bob: {name: Bob}
oncall:
  schedules:
    main:
      time_zone: Europe/Berlin
      layers:
        - {name: weekly, start: "2026-01-05", rotation: 1w, handoff: "09:00", members: [ann]}
    spare:
      layers:
        - {name: daily, start: "2026-01-05", rotation: 1d, members: [bob]}
"""
T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    (tmp_path / "tiation.yaml").write_text(PLATFORM)
    return load_platform(tmp_path / "tiation.yaml").platform


@pytest.fixture
def store(tmp_path: Path, fake_clock: FakeClock) -> Iterator[StateStore]:
    with StateStore.open(f"sqlite:///{tmp_path / 'state.db'}", clock=fake_clock) as s:
        yield s


def test_the_migration_creates_the_overrides_table(tmp_path: Path, store: StateStore) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("oncall_overrides")}
    finally:
        engine.dispose()
    assert {"id", "schedule", "person", "starts_at", "ends_at", "reason", "actor", "created_at"} <= columns


def test_add_list_remove_each_audited(platform: Platform, store: StateStore) -> None:
    row = add_override(
        platform,
        store,
        schedule="main",
        person="bob",
        start=T0,
        end=T0 + timedelta(days=1),
        actor="alice",
        reason="swap with ann",
    )
    assert (row.schedule, row.person, row.start, row.end, row.actor) == (
        "main",
        "bob",
        T0,
        T0 + timedelta(days=1),
        "alice",
    )
    with store.read() as uow:
        assert uow.overrides.find() == [row]
        assert uow.overrides.find(schedule="spare") == []
        assert uow.overrides.find(ending_after=T0 + timedelta(days=1)) == []
        assert uow.overrides.find(starting_before=T0) == []
    assert remove_override(store, row.id, actor="carol") == row
    with store.read() as uow:
        assert uow.overrides.find() == []
        events = [(e.action, e.actor, e.details) for e in uow.audit.events()]
    expected = {
        "schedule": "main",
        "person": "bob",
        "start": T0.isoformat(),
        "end": (T0 + timedelta(days=1)).isoformat(),
    }
    assert [(a, who) for a, who, _ in events] == [
        ("oncall.override.add", "alice"),
        ("oncall.override.remove", "carol"),
    ]
    for _, _, details in events:
        assert expected.items() <= details.items()


def test_stored_overrides_take_over_the_schedule(platform: Platform, store: StateStore) -> None:
    at = T0 + timedelta(hours=3)
    assert load_schedule(platform, "main", store).on_call(at) == ("ann", "layer:weekly")
    row = add_override(
        platform, store, schedule="main", person="bob", start=T0, end=at + timedelta(hours=1), actor="a"
    )
    assert load_schedule(platform, "main", store).on_call(at) == ("bob", f"override:{row.id}")
    assert (
        load_schedule(platform, "main", store, start=at, end=at + timedelta(hours=1)).on_call(at)[0] == "bob"
    )
    # Queried for a range it does not overlap, the override is not even read.
    later = at + timedelta(days=3)
    assert load_schedule(platform, "main", store, start=later, end=later).overrides == []
    assert [s.name for s in load_schedules(platform, store)] == ["main", "spare"]
    assert load_schedules(platform, store)[1].on_call(at)[0] == "bob"  # spare's own layer


@pytest.mark.parametrize(
    ("schedule", "person", "hours", "message"),
    [
        ("mian", "bob", 1, "unknown schedule 'mian' (did you mean 'main'?)"),
        ("other", "bob", 1, "unknown schedule 'other' (known: main, spare)"),
        ("main", "bobby", 1, "unknown person 'bobby' (did you mean 'bob'?)"),
        ("main", "bob", 0, "an override must end after it starts (start 2026-03-01T00:00:00+00:00, end 2026"),
        ("main", "bob", -1, "an override must end after it starts"),
    ],
)
def test_bad_overrides_are_refused_and_nothing_is_stored(
    platform: Platform, store: StateStore, schedule: str, person: str, hours: int, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        add_override(
            platform,
            store,
            schedule=schedule,
            person=person,
            start=T0,
            end=T0 + timedelta(hours=hours),
            actor="a",
        )
    assert str(caught.value).startswith(message)
    with store.read() as uow:
        assert uow.overrides.find() == []
        assert uow.audit.events() == []


def test_removing_an_unknown_override_is_a_usage_error_and_not_audited(store: StateStore) -> None:
    with pytest.raises(UsageError, match="no on-call override with id 42"):
        remove_override(store, 42, actor="a")
    with store.read() as uow:
        assert uow.audit.events() == []


def test_the_store_itself_refuses_naive_or_backwards_times(store: StateStore) -> None:
    with pytest.raises(StateError, match="timezone-aware"), store.write() as uow:
        uow.overrides.add(
            schedule="main", person="a", start=datetime(2026, 1, 1), end=T0, reason="", actor="a"
        )
    with pytest.raises(StateError, match="end after it starts"), store.write() as uow:
        uow.overrides.add(schedule="main", person="a", start=T0, end=T0, reason="", actor="a")


def test_an_override_for_someone_no_longer_in_people_is_left_out(
    platform: Platform, store: StateStore
) -> None:
    with store.write() as uow:
        uow.overrides.add(
            schedule="main", person="gone", start=T0, end=T0 + timedelta(days=1), reason="", actor="a"
        )
    assert load_schedule(platform, "main", store).on_call(T0) == ("ann", "layer:weekly")
