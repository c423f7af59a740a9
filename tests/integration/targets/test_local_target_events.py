"""Events of local candidates, from real supervised processes: exits, restarts, crash loops, config errors."""

from __future__ import annotations

import json
import os
import signal
import stat

import pytest
from local_kit import ENV, Kit, try_get, wait_until

from tiation.secrets import SecretRef
from tiation.targets.base import EventKind, Rollout, TargetEvent

pytestmark = pytest.mark.integration


class Collector:
    """Accumulates what `events()` returns for one rollout."""

    def __init__(self, kit: Kit, rollout: Rollout) -> None:
        self.kit, self.rollout = kit, rollout
        self.seen: list[TargetEvent] = []

    def poll(self) -> list[TargetEvent]:
        self.seen.extend(self.kit.target.events(self.rollout))
        return self.seen

    def first(self, kind: EventKind) -> TargetEvent | None:
        return next((e for e in self.poll() if e.kind is kind), None)

    def kinds(self) -> list[EventKind]:
        return [e.kind for e in self.seen]


def test_an_app_that_exits_at_start_reports_its_exit_code(kit: Kit) -> None:
    rollout = kit.target.apply(kit.release("bad", mode="exit", args=("--code", "3")))
    events = Collector(kit, rollout)
    exited = wait_until(lambda: events.first(EventKind.EXITED), what="EXITED")
    assert exited.exit_code == 3
    assert events.kinds()[0] is EventKind.STARTED
    assert exited.at >= events.seen[0].at
    kit.target.abort(rollout)


def test_a_restart_loop_reports_restarts_then_one_crash_loop(kit: Kit) -> None:
    rollout = kit.target.apply(kit.release("bad", mode="exit", args=("--code", "1")))
    events = Collector(kit, rollout)
    wait_until(lambda: events.first(EventKind.CRASH_LOOP), timeout=30, what="CRASH_LOOP")
    kinds = events.kinds()
    restarts = [i for i, kind in enumerate(kinds) if kind is EventKind.RESTARTED]
    assert len(restarts) >= 3
    assert kinds.index(EventKind.CRASH_LOOP) > restarts[2]
    assert all(e.exit_code == 1 for e in events.seen if e.kind is EventKind.EXITED)
    instance = next(i for i in kit.target.observe("web").instances if i.id == rollout.instance_id)
    assert instance.restarts >= 3
    assert instance.state in ("starting", "running")  # it will be restarted again: not given up
    kit.target.discard("web", rollout.instance_id)  # as the executor does with a left-behind candidate
    assert kit.target.observe("web").instances[0].state == "stopped"
    events.poll()
    assert events.kinds().count(EventKind.CRASH_LOOP) == 1


def test_a_missing_command_is_a_config_error(kit: Kit) -> None:
    rollout = kit.target.apply(kit.release("v1", command=("tiation-no-such-command", "--tag", str(kit.root))))
    events = Collector(kit, rollout)
    error = wait_until(lambda: events.first(EventKind.CONFIG_ERROR), what="CONFIG_ERROR")
    assert error.detail == "command not found: tiation-no-such-command"
    wait_until(lambda: kit.target.observe("web").instances[0].state == "exited", what="state exited")
    assert events.poll() == [error]  # the supervisor gave up on purpose: no "supervisor died"
    kit.target.abort(rollout)


def test_a_command_that_is_not_executable_is_a_config_error(kit: Kit) -> None:
    script = kit.tmp / "not-executable.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    rollout = kit.target.apply(kit.release("v1", command=(str(script), "--tag", str(kit.root))))
    error = wait_until(lambda: Collector(kit, rollout).first(EventKind.CONFIG_ERROR), what="CONFIG_ERROR")
    assert error.detail == f"command not executable: {script}"
    kit.target.abort(rollout)


def test_a_missing_secret_is_a_config_error(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIATION_TEST_LOCAL_MISSING", raising=False)
    release = kit.release("v1", env={"TOKEN": SecretRef("env:TIATION_TEST_LOCAL_MISSING")})
    rollout = kit.target.apply(release)
    error = wait_until(lambda: Collector(kit, rollout).first(EventKind.CONFIG_ERROR), what="CONFIG_ERROR")
    assert "env:TIATION_TEST_LOCAL_MISSING is not set" in error.detail
    kit.target.abort(rollout)


def test_a_killed_supervisor_is_reported_once(kit: Kit) -> None:
    rollout = kit.target.apply(kit.release("v1"))
    wait_until(lambda: try_get(rollout.endpoint) == "v1", what="v1 to answer")
    events = Collector(kit, rollout)
    assert events.poll()[0].kind is EventKind.STARTED
    assert kit.target.events(rollout) == []  # nothing new: nothing returned twice
    pid_file = kit.root / "local" / ENV / "web" / "instances" / rollout.instance_id / "supervisor.pid"
    os.kill(json.loads(pid_file.read_text())["pid"], signal.SIGKILL)
    died = wait_until(lambda: events.first(EventKind.EXITED), what="EXITED")
    assert "supervisor" in died.detail and died.exit_code is None
    assert kit.target.events(rollout) == []
    kit.target.abort(rollout)  # also stops the orphaned app
    assert try_get(rollout.endpoint) is None
