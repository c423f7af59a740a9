"""Leases on SQLite and PostgreSQL: conflicts, expiry, heartbeats, and real processes racing and dying."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tiation.clock import FakeClock, SystemClock
from tiation.errors import LockHeldError, StateError
from tiation.state import Lease, StateStore

pytestmark = pytest.mark.integration

WORKER = Path(__file__).with_name("lease_worker.py")
ENV, SVC = "production", "cms"


def _take(store: StateStore, owner: str = "alice@host pid 1234", ttl: float = 60) -> Lease:
    with store.write() as uow:
        return uow.leases.acquire(ENV, SVC, owner=owner, reason="deploy cms 1.2.0", ttl=ttl)


def test_acquire_returns_the_lease(store: StateStore, fake_clock: FakeClock) -> None:
    lease = _take(store)
    assert (lease.environment, lease.service, lease.owner, lease.reason) == (
        ENV,
        SVC,
        "alice@host pid 1234",
        "deploy cms 1.2.0",
    )
    assert lease.acquired_at == lease.heartbeat_at == fake_clock.now()
    assert (lease.expires_at - lease.acquired_at).total_seconds() == 60
    assert not lease.expired and len(lease.token.partition(".")[0]) == 32  # random part; then start time
    with store.read() as uow:
        assert uow.leases.all() == [lease]


def test_live_lease_blocks_with_a_one_line_message(store: StateStore, fake_clock: FakeClock) -> None:
    start = datetime(2026, 11, 29, 9, 15, 22, 500000, tzinfo=UTC)
    fake_clock.advance((start - fake_clock.now()).total_seconds())
    _take(store)
    fake_clock.advance(17.5)
    with pytest.raises(LockHeldError) as err, store.write() as uow:
        uow.leases.acquire(ENV, SVC, owner="bob@other pid 9", reason="rollback", ttl=60)
    assert str(err.value) == (
        "production/cms is locked by alice@host pid 1234 (deploy cms 1.2.0) since 2026-11-29T09:15:22Z;"
        " expires in 43s — wait, or `tiation lock release production cms --force`"
    )
    assert err.value.retryable
    # other keys are independent
    with store.write() as uow:
        other = uow.leases.acquire(ENV, "api", owner="bob", reason="deploy api", ttl=60)
    assert other.service == "api"
    with store.read() as uow:
        assert {(x.environment, x.service) for x in uow.leases.all()} == {(ENV, SVC), (ENV, "api")}


def test_expired_lease_is_taken_over(store: StateStore, fake_clock: FakeClock) -> None:
    old = _take(store, ttl=10)
    fake_clock.advance(10)  # expires_at == now: not yet expired
    with pytest.raises(LockHeldError, match="expires in 0s"):
        _take(store, owner="bob")
    fake_clock.advance(0.001)
    with store.read() as uow:
        (listed,) = uow.leases.all()
    assert listed.expired and listed.token == old.token
    new = _take(store, owner="bob")
    assert new.owner == "bob" and new.token != old.token
    with store.read() as uow:
        assert [x.owner for x in uow.leases.all()] == ["bob"]


def test_heartbeat_extends_by_the_ttl(store: StateStore, fake_clock: FakeClock) -> None:
    lease = _take(store, ttl=30)
    fake_clock.advance(20)
    with store.write() as uow:
        beat = uow.leases.heartbeat(lease)
    assert beat.heartbeat_at == fake_clock.now()
    assert beat.expires_at == fake_clock.now() + (lease.expires_at - lease.acquired_at)
    assert beat.token == lease.token and beat.acquired_at == lease.acquired_at
    fake_clock.advance(25)  # past the original expiry, within the extended one
    with pytest.raises(LockHeldError):
        _take(store, owner="bob")
    with store.read() as uow:
        assert uow.leases.all() == [beat]


def test_heartbeat_and_release_of_a_lost_lease(store: StateStore, fake_clock: FakeClock) -> None:
    lease = _take(store, ttl=5)
    fake_clock.advance(6)
    thief = _take(store, owner="bob")
    lost = r"^lease lost: production/cms is no longer held by alice"
    with pytest.raises(LockHeldError, match=lost), store.write() as uow:
        uow.leases.heartbeat(lease)
    with store.write() as uow:
        uow.leases.release(lease)  # not ours any more: a no-op
    with store.read() as uow:
        assert [x.token for x in uow.leases.all()] == [thief.token]
    with store.write() as uow:
        uow.leases.release(thief)
    with store.read() as uow:
        assert uow.leases.all() == []
    with pytest.raises(LockHeldError, match="lease lost"), store.write() as uow:
        uow.leases.heartbeat(thief)


def test_heartbeat_of_an_expired_lease_nobody_took(store: StateStore, fake_clock: FakeClock) -> None:
    lease = _take(store, ttl=5)
    fake_clock.advance(60)
    with store.write() as uow:
        beat = uow.leases.heartbeat(lease)  # still ours (same token): extended from now
    assert beat.expires_at == fake_clock.now() + (lease.expires_at - lease.heartbeat_at)
    with store.read() as uow:
        assert not uow.leases.all()[0].expired


def test_release_frees_the_key(store: StateStore) -> None:
    lease = _take(store)
    with store.write() as uow:
        uow.leases.release(lease)
    with store.read() as uow:
        assert uow.leases.all() == []
    assert _take(store, owner="bob").owner == "bob"


def test_force_release_removes_any_lease_and_audits(store: StateStore) -> None:
    lease = _take(store)
    with store.write() as uow:
        removed = uow.leases.force_release(ENV, SVC, actor="root@ops")
    assert removed is not None and removed.token == lease.token and removed.owner == lease.owner
    with store.read() as uow:
        assert uow.leases.all() == []
    with store.write() as uow:
        assert uow.leases.force_release(ENV, SVC, actor="root@ops") is None
    with store.read() as uow:
        events = uow.audit.events()
    assert [(e.action, e.actor, e.environment, e.service) for e in events] == [
        ("lock.force_release", "root@ops", ENV, SVC)
    ] * 2
    assert events[0].details["released"] is True and events[0].details["owner"] == lease.owner
    assert events[1].details == {"released": False}
    with pytest.raises(LockHeldError, match="lease lost"), store.write() as uow:
        uow.leases.heartbeat(lease)


def test_ttl_must_be_positive(store: StateStore) -> None:
    with pytest.raises(StateError, match="positive ttl"):
        _take(store, ttl=0)


# --- real processes ---------------------------------------------------------------------------------


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line:
        proc.wait(timeout=10)
        assert proc.stderr is not None
        pytest.fail(f"worker exited {proc.returncode}: {proc.stderr.read()}")
    return line


def _finish(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


@pytest.fixture
def real_store(state_url: str) -> Iterator[StateStore]:
    """A store on the system clock (migrated before any worker opens it)."""
    with StateStore.open(state_url, clock=SystemClock()) as s:
        yield s


def test_two_processes_racing_one_wins_each_round(state_url: str, real_store: StateStore) -> None:
    rounds = 40
    # every other round starts from an expired lease left by a long-gone holder: both race to take it over
    with StateStore.open(state_url, clock=FakeClock(datetime(2020, 1, 1, tzinfo=UTC))) as past:
        for r in range(0, rounds, 2):
            with past.write() as uow:
                uow.leases.acquire("race", f"svc-{r}", owner="ghost", reason="crashed", ttl=1)
    procs = [_spawn("race", state_url) for _ in range(2)]
    try:
        assert [_line(p) for p in procs] == ["ready", "ready"]
        for r in range(rounds):
            for p in procs:
                assert p.stdin is not None
                p.stdin.write(f"go svc-{r}\n")
                p.stdin.flush()
            results = sorted(_line(p) for p in procs)
            assert results == ["lost", "won"], f"round {r}: {results}"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("quit\n")
            p.stdin.flush()
            assert p.wait(timeout=30) == 0
    finally:
        _finish(procs)
    with real_store.read() as uow:
        held = {x.service: x for x in uow.leases.all() if x.environment == "race"}
    assert sorted(held) == sorted(f"svc-{r}" for r in range(rounds))
    assert all(x.owner.startswith("worker pid ") for x in held.values())  # no ghost survived


def test_lease_of_a_killed_process_is_taken_over_after_expiry(real_store: StateStore, state_url: str) -> None:
    proc = _spawn("hold", state_url, SVC, "1.0")
    try:
        assert _line(proc) == "acquired"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        _finish([proc])
    assert proc.returncode == -signal.SIGKILL
    with real_store.read() as uow:
        (held,) = uow.leases.all()
    assert not held.expired
    locked = rf"hold/{SVC} is locked by worker pid {proc.pid} \(hold\)"
    with pytest.raises(LockHeldError, match=locked), real_store.write() as uow:
        uow.leases.acquire("hold", SVC, owner="me", reason="after crash", ttl=10)
    wait = (held.expires_at - datetime.now(UTC)).total_seconds() + 0.05
    time.sleep(max(0.0, wait))
    with real_store.write() as uow:
        lease = uow.leases.acquire("hold", SVC, owner="me", reason="after crash", ttl=10)
    assert lease.owner == "me"
    with real_store.read() as uow:
        assert [x.owner for x in uow.leases.all()] == ["me"]


def test_a_lease_whose_holder_on_this_host_is_dead_is_free_at_once(store: StateStore) -> None:
    import socket

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a pid that is gone (or, if reused, another process's start time)
    _take(store, owner=f"alice@{socket.gethostname()} pid {child.pid}")
    with store.read("list") as uow:
        [held] = uow.leases.all()
    assert held.dead == f"pid {child.pid} gone" and not held.expired
    taken = _take(store, owner="bob@host pid 1")  # no LockHeldError, no waiting for the ttl
    with store.read("list") as uow:
        assert [lease.token for lease in uow.leases.all()] == [taken.token]


def test_a_live_holder_on_this_host_or_one_elsewhere_keeps_the_lease(store: StateStore) -> None:
    import socket

    _take(store, owner=f"alice@{socket.gethostname()} pid {os.getpid()}")
    with pytest.raises(LockHeldError):
        _take(store, owner="bob@host pid 1")
