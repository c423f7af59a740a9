"""Group commit: requests queued while a commit runs go into the next single `ingest` call, each answered
with its own result; failures stay with the request that caused them; the queue is bounded."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import pytest

from tiation.alerting.model import AlertEvent, IngestResult
from tiation.errors import StateError
from tiation.server.committer import GroupCommitter, Overloaded
from tiation.server.fake import RecordingIngestor


def alert(name: str, status: str = "firing") -> AlertEvent:
    return AlertEvent(source="generic", status=status, labels={"alertname": name})  # type: ignore[arg-type]


class GatedIngestor(RecordingIngestor):
    """Blocks its first commit until `gate` is set, so that requests pile up behind it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entered = threading.Event()
        self.gate = threading.Event()

    def ingest_groups(self, groups: Sequence[Sequence[AlertEvent]]) -> list[IngestResult]:
        if not self.entered.is_set():
            self.entered.set()
            self.gate.wait(30)
        return super().ingest_groups(groups)


class PlainIngestor:
    """Only `ingest` (no group commit)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def ingest(self, events: Sequence[AlertEvent]) -> IngestResult:
        self.calls.append([e.labels["alertname"] for e in events])
        return IngestResult(received=len(events), new=len(events))


async def until(check: Callable[[], bool]) -> None:
    for _ in range(30_000):
        if check():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never became true")


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


async def _blocked(committer: GroupCommitter, ingestor: GatedIngestor) -> asyncio.Task[IngestResult]:
    first = asyncio.create_task(committer.submit([alert("first")]))
    await until(ingestor.entered.is_set)
    return first


def test_requests_queued_during_a_commit_are_committed_together_with_their_own_results() -> None:
    ingestor = GatedIngestor()
    committer = GroupCommitter(ingestor)

    async def scenario() -> None:
        committer.start()
        first = await _blocked(committer, ingestor)
        sizes = [1, 2, 3, 1, 2, 3, 1, 2, 3, 1]
        tasks = [
            asyncio.create_task(committer.submit([alert(f"r{i}-{j}") for j in range(n)]))
            for i, n in enumerate(sizes)
        ]
        await until(lambda: committer._pending == 1 + sum(sizes))
        ingestor.gate.set()
        results = await asyncio.gather(first, *tasks)
        assert [r.received for r in results] == [1, *sizes]
        assert [r.new for r in results] == [1, *sizes]
        assert [len(batch) for batch in ingestor.batches] == [1, len(sizes)]
        committer.stop()

    run(scenario)
    assert committer._pending == 0


def test_a_batch_holds_at_most_max_events_and_never_splits_a_request() -> None:
    ingestor = GatedIngestor()
    committer = GroupCommitter(ingestor, max_events=5)

    async def scenario() -> None:
        committer.start()
        first = await _blocked(committer, ingestor)
        tasks = [asyncio.create_task(committer.submit([alert(f"{i}a"), alert(f"{i}b")])) for i in range(6)]
        big = asyncio.create_task(committer.submit([alert(f"big{i}") for i in range(7)]))
        await until(lambda: committer._pending == 1 + 12 + 7)
        ingestor.gate.set()
        await asyncio.gather(first, *tasks, big)
        committer.stop()

    run(scenario)
    sizes = [sum(len(group) for group in batch) for batch in ingestor.batches]
    assert sizes == [1, 4, 4, 4, 7]
    assert all(len(group) in (1, 2, 7) for batch in ingestor.batches for group in batch)


def test_a_failing_request_fails_alone_and_the_others_commit() -> None:
    ingestor = GatedIngestor(fail_when=lambda group: any(e.labels["alertname"] == "poison" for e in group))
    committer = GroupCommitter(ingestor)

    async def scenario() -> None:
        committer.start()
        first = await _blocked(committer, ingestor)
        good = [asyncio.create_task(committer.submit([alert(f"ok{i}")])) for i in range(3)]
        bad = asyncio.create_task(committer.submit([alert("poison"), alert("ok-too")]))
        await until(lambda: committer._pending == 6)
        ingestor.gate.set()
        assert (await first).new == 1
        assert [(await t).new for t in good] == [1, 1, 1]
        with pytest.raises(StateError):
            await bad
        committer.stop()

    run(scenario)
    committed = {e.labels["alertname"] for e in ingestor.events}
    assert committed == {"first", "ok0", "ok1", "ok2"}


def test_a_plain_ingestor_is_called_once_per_request() -> None:
    ingestor = PlainIngestor()
    committer = GroupCommitter(ingestor)

    async def scenario() -> None:
        committer.start()
        results = await asyncio.gather(
            *(committer.submit([alert(f"a{i}"), alert(f"b{i}")]) for i in range(5))
        )
        assert [r.received for r in results] == [2] * 5
        committer.stop()

    run(scenario)
    assert sorted(ingestor.calls) == sorted([f"a{i}", f"b{i}"] for i in range(5))


def test_a_full_queue_refuses_at_once() -> None:
    ingestor = GatedIngestor()
    committer = GroupCommitter(ingestor, max_pending=4)

    async def scenario() -> None:
        committer.start()
        first = await _blocked(committer, ingestor)
        queued = asyncio.create_task(committer.submit([alert("x"), alert("y")]))
        await until(lambda: committer._pending == 3)
        with pytest.raises(Overloaded, match="queue is full"):
            await committer.submit([alert("z"), alert("w")])
        ingestor.gate.set()
        await asyncio.gather(first, queued)
        assert (await committer.submit([alert("z"), alert("w")])).received == 2
        committer.stop()

    run(scenario)


def test_stop_commits_what_is_queued_then_refuses() -> None:
    ingestor = GatedIngestor()
    committer = GroupCommitter(ingestor)

    async def scenario() -> None:
        committer.start()
        first = await _blocked(committer, ingestor)
        queued = [asyncio.create_task(committer.submit([alert(f"q{i}")])) for i in range(4)]
        await until(lambda: committer._pending == 5)
        stopper = asyncio.get_running_loop().run_in_executor(None, committer.stop)
        await until(lambda: not committer._accepting)
        with pytest.raises(Overloaded, match="stopping"):
            await committer.submit([alert("late")])
        ingestor.gate.set()
        await stopper
        assert [(await t).new for t in [first, *queued]] == [1] * 5

    run(scenario)
    assert not committer.alive
    assert "late" not in {e.labels["alertname"] for e in ingestor.events}


def test_linger_waits_for_more_before_committing() -> None:
    ingestor = RecordingIngestor()
    committer = GroupCommitter(ingestor, linger=30.0, max_events=3)

    async def scenario() -> None:
        committer.start()
        first = asyncio.create_task(committer.submit([alert("l0")]))
        await until(lambda: committer._pending == 1)
        await asyncio.sleep(0.05)  # the writer has the first job and lingers for more
        await asyncio.gather(first, *(committer.submit([alert(f"l{i}")]) for i in (1, 2)))
        committer.stop()

    run(scenario)
    assert [len(batch) for batch in ingestor.batches] == [3]


def test_a_large_request_is_committed_in_slices_with_later_requests_between_them() -> None:
    ingestor = GatedIngestor()
    committer = GroupCommitter(ingestor, max_events=10, slice_events=10)
    finished: list[str] = []

    async def tracked(name: str, events: list[AlertEvent]) -> IngestResult:
        result = await committer.submit(events)
        finished.append(name)
        return result

    async def scenario() -> None:
        committer.start()
        big = asyncio.create_task(tracked("big", [alert(f"big{i}") for i in range(35)]))
        await until(ingestor.entered.is_set)  # its first slice is being committed
        small = [asyncio.create_task(tracked(f"small{i}", [alert(f"s{i}")])) for i in range(3)]
        await until(lambda: committer._pending == 35 + 3)
        ingestor.gate.set()
        answer = await big
        assert answer.received == answer.new == 35  # one answer with the whole request's counts
        assert [(await t).new for t in small] == [1, 1, 1]
        committer.stop()

    run(scenario)
    assert finished == ["small0", "small1", "small2", "big"]
    sizes = [[len(group) for group in batch] for batch in ingestor.batches]
    assert sizes == [[10], [1, 1, 1], [10], [10], [5]]
    assert [e.labels["alertname"] for e in ingestor.events if e.labels["alertname"].startswith("big")] == [
        f"big{i}" for i in range(35)
    ]
    assert committer._pending == 0


def test_a_failing_slice_fails_its_request_and_drops_the_later_slices() -> None:
    ingestor = RecordingIngestor(
        fail_when=lambda group: any(e.labels["alertname"] == "poison" for e in group)
    )
    committer = GroupCommitter(ingestor, max_events=10, slice_events=10)
    events = [alert(f"big{i}") for i in range(25)]
    events[15] = alert("poison")

    async def scenario() -> None:
        committer.start()
        with pytest.raises(StateError):
            await committer.submit(events)
        assert (await committer.submit([alert("after")])).new == 1
        committer.stop()

    run(scenario)
    names = [e.labels["alertname"] for e in ingestor.events]
    assert names == [f"big{i}" for i in range(10)] + ["after"]  # the first slice stays; 20..24 never ran
    assert committer._pending == 0
