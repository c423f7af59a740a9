"""Events of a container from `inspect` data and the engine's recorded events, as data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tiation.targets.base import EventKind
from tiation.targets.compose.events import ContainerCursor, container_events, container_state, docker_time

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def inspect(**state: Any) -> dict[str, Any]:
    restarts = state.pop("restarts", 0)
    base = {"Running": True, "Restarting": False, "StartedAt": "2026-01-01T11:59:59.123456789Z"}
    return {"State": {**base, **state}, "RestartCount": restarts}


def die(code: int, nano: int) -> dict[str, Any]:
    return {"Action": "die", "timeNano": nano, "Actor": {"Attributes": {"exitCode": str(code)}}}


def test_started_then_each_die_once_with_its_exit_code() -> None:
    cursor = ContainerCursor()
    first = container_events(inspect(), [], cursor, NOW)
    assert [e.kind for e in first] == [EventKind.STARTED]
    assert first[0].at == datetime(2026, 1, 1, 11, 59, 59, 123456, tzinfo=UTC)
    nano = int(NOW.timestamp() * 1e9)
    events = container_events(inspect(), [die(3, nano), {"Action": "start", "timeNano": nano}], cursor, NOW)
    assert [(e.kind, e.exit_code) for e in events] == [(EventKind.EXITED, 3)]
    # The same engine event seen again in the overlapping window is not reported twice.
    assert container_events(inspect(), [die(3, nano)], cursor, NOW) == []


def test_restart_count_gives_restarts_then_one_crash_loop() -> None:
    cursor = ContainerCursor()
    container_events(inspect(), [], cursor, NOW)
    two = container_events(inspect(restarts=2), [], cursor, NOW)
    assert [e.kind for e in two] == [EventKind.RESTARTED, EventKind.RESTARTED]
    three = container_events(inspect(restarts=3), [], cursor, NOW + timedelta(seconds=1))
    assert [e.kind for e in three] == [EventKind.RESTARTED, EventKind.CRASH_LOOP]
    four = container_events(inspect(restarts=4), [], cursor, NOW + timedelta(seconds=2))
    assert [e.kind for e in four] == [EventKind.RESTARTED]


def test_slow_restarts_are_no_crash_loop() -> None:
    cursor = ContainerCursor()
    for n in range(1, 4):
        events = container_events(inspect(restarts=n), [], cursor, NOW + timedelta(seconds=61 * n))
        assert EventKind.CRASH_LOOP not in [e.kind for e in events]


def test_healthcheck_transitions_are_info_and_errors_are_fatal_kinds() -> None:
    cursor = ContainerCursor()
    container_events(inspect(Health={"Status": "starting"}), [], cursor, NOW)
    health = {
        "Status": "unhealthy",
        "FailingStreak": 3,
        "Log": [{"ExitCode": 1, "Output": "404 Not Found\n"}],
    }
    [info] = container_events(inspect(Health=health), [], cursor, NOW)
    assert info.kind is EventKind.INFO
    assert info.detail == "healthcheck unhealthy after 3 failures (exit code 1: 404 Not Found)"
    assert container_events(inspect(Health=health), [], cursor, NOW) == []
    error = inspect(Running=False, Status="created", Error='exec: "nope": executable file not found')
    kinds = [e.kind for e in container_events(error, [], ContainerCursor(), NOW)]
    assert EventKind.CONFIG_ERROR in kinds
    oom = container_events(inspect(), [{"Action": "oom", "timeNano": 1}], ContainerCursor(), NOW)
    assert EventKind.OOM_KILLED in [e.kind for e in oom]


def test_a_vanished_container_is_an_exit_and_states_map() -> None:
    [gone] = container_events(None, [], ContainerCursor(), NOW)
    assert gone.kind is EventKind.EXITED and gone.exit_code is None
    assert container_state(None) == "exited"
    assert container_state(inspect()) == "running"
    assert container_state(inspect(Restarting=True)) == "starting"
    assert container_state(inspect(Running=False, Status="exited")) == "exited"
    assert docker_time("0001-01-01T00:00:00Z") is None and docker_time("junk") is None
