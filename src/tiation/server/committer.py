"""Group commit: one writer thread turns whatever requests have queued into one `ingest` transaction.

Requests are parsed and authenticated on the event loop and handed over as (events, future); those that reach
`submit` in the same loop iteration travel together (one wake-up of the writer). The writer takes the first
waiting jobs, then everything else already queued (up to `max_events` events; optionally lingering a little for
more), commits it as one batch and resolves each request's future with its own result (one wake-up of the loop
per batch). A request is answered only after its batch is committed. Under light load a batch is one request
(no added latency); under heavy load a batch grows while the previous one commits, which is what keeps
throughput up.

Fairness: a request of more than `slice_events` events is committed in slices of that size, one slice per
batch, and after each slice it goes to the back of the queue, behind every request that arrived meanwhile. So
one huge request (16,000 alerts) delays a small one by one slice's commit at most, not by the whole request.
The big request is still answered once, with the sum of its slices' counts, after its last slice committed.

All-or-nothing holds per slice, not per sliced request: each slice is its own transaction. If a slice fails,
the request is answered with that error at once, its later slices are dropped (never committed), and its
earlier slices stay committed. Re-sending the whole request is safe: intake is idempotent (an alert that is
already firing counts as a duplicate and pages nobody again). Requests of up to `slice_events` events are
never split.

Each request needs its own result ("2 new, 1 duplicate"). An ingestor that implements `GroupIngestor` gets
the whole batch in one call (one transaction) and returns one result per request (slice). A plain `Ingestor`
(only `ingest`) is called once per request (slice), still on the one writer thread, so results stay exact.

A batch that fails is retried slice by slice, so one bad request cannot fail the others; a request whose
own ingest fails gets the exception. The queue is bounded (`max_pending` events): beyond it, `submit` raises
`Overloaded` at once (the server answers 503 with Retry-After) rather than letting memory and latency grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast, runtime_checkable

from tiation.alerting.model import AlertEvent, IngestResult
from tiation.errors import TiationError
from tiation.redact import redact

log = logging.getLogger("tiation.server.intake")


class Ingestor(Protocol):
    """What the server needs of the alert engine: one synchronous, transactional ingest."""

    def ingest(self, events: Sequence[AlertEvent]) -> IngestResult:
        """Run every pipeline stage for `events` in one transaction; the counted decisions."""
        ...


@runtime_checkable
class GroupIngestor(Protocol):
    """An ingestor that commits several requests in one transaction and reports on each."""

    def ingest_groups(self, groups: Sequence[Sequence[AlertEvent]]) -> Sequence[IngestResult]:
        """`ingest` for each group, all in one transaction; one result per group, in order."""
        ...


class Overloaded(TiationError):
    """The intake queue is full, or the server is stopping; the sender should retry shortly."""

    retryable = True


@dataclass
class _Job:
    events: Sequence[AlertEvent]
    future: asyncio.Future[IngestResult]
    loop: asyncio.AbstractEventLoop
    done: int = 0
    """Events committed so far (the writer thread's bookkeeping, like `result`)."""
    result: IngestResult = field(default_factory=IngestResult)


@dataclass(frozen=True)
class _Slice:
    job: _Job
    start: int
    end: int

    @property
    def events(self) -> Sequence[AlertEvent]:
        whole = self.job.events
        return whole if self.start == 0 and self.last else whole[self.start : self.end]

    @property
    def last(self) -> bool:
        return self.end == len(self.job.events)


_STOP = object()
BatchHook = Callable[[int, float], None]
"""Called after each commit with (events, seconds)."""


_Pair = tuple[asyncio.Future[IngestResult], IngestResult | BaseException]


def _deliver(pairs: list[_Pair]) -> None:
    for future, outcome in pairs:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def combined(first: IngestResult, second: IngestResult) -> IngestResult:
    """The counts of two slices of one request, added up (incidents in first-seen order, once each)."""
    return IngestResult(
        received=first.received + second.received,
        new=first.new + second.new,
        duplicates=first.duplicates + second.duplicates,
        resolved=first.resolved + second.resolved,
        acknowledged=first.acknowledged + second.acknowledged,
        silenced=first.silenced + second.silenced,
        incidents=tuple(dict.fromkeys((*first.incidents, *second.incidents))),
    )


class GroupCommitter:
    """The single writer thread between the event loop and the ingestor."""

    def __init__(
        self,
        ingestor: Ingestor,
        *,
        max_events: int = 1000,
        linger: float = 0.0,
        max_pending: int = 50_000,
        slice_events: int = 200,
        on_batch: BatchHook | None = None,
    ) -> None:
        self._ingestor = ingestor
        self._groups = ingestor if isinstance(ingestor, GroupIngestor) else None
        self.max_events = max_events
        self.linger = linger
        self.max_pending = max_pending
        self.slice_events = max(1, slice_events)
        self._on_batch = on_batch
        self._queue: queue.SimpleQueue[list[_Job] | object] = queue.SimpleQueue()
        self._outbox: list[_Job] = []
        self._flush_scheduled = False
        self._pending = 0
        self._lock = threading.Lock()
        self._accepting = False
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        """Whether the writer thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the writer thread."""
        if self._thread is not None:
            return
        self._accepting = True
        self._thread = threading.Thread(target=self._run, name="tiation-intake-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, commit everything already queued, then end the thread."""
        with self._lock:  # under the lock: no job can be queued behind the stop marker
            self._accepting = False
            if self._thread is None:
                return
            self._flush_locked()
            self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    async def submit(self, events: Sequence[AlertEvent]) -> IngestResult:
        """Queue `events` (one request) and wait until they are committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestResult] = loop.create_future()
        with self._lock:
            if not self._accepting:
                raise Overloaded("the server is stopping")
            if self._pending and self._pending + len(events) > self.max_pending:
                raise Overloaded("the intake queue is full")
            self._pending += len(events)
            self._outbox.append(_Job(events, future, loop))
            if not self._flush_scheduled:
                # Requests parsed in the same loop iteration reach the writer in one hand-off (one wake-up).
                self._flush_scheduled = True
                loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        self._flush_scheduled = False
        if self._outbox:
            self._queue.put(self._outbox)
            self._outbox = []

    def _run(self) -> None:
        backlog: deque[_Job] = deque()
        stopping = False
        while backlog or not stopping:
            if not backlog:
                item = self._queue.get()
                if item is _STOP:
                    break
                backlog.extend(cast(list[_Job], item))
            batch, count, stopping = self._gather(backlog, stopping)
            unfinished = self._commit(batch, count)
            if unfinished:
                # A sliced request goes behind every request that arrived while its slice committed.
                stopping = self._drain(backlog) or stopping
                backlog.extend(unfinished)

    def _gather(self, backlog: deque[_Job], stopping: bool) -> tuple[list[_Slice], int, bool]:
        batch: list[_Slice] = []
        count = 0
        deadline = time.monotonic() + self.linger
        while True:
            # A request of up to slice_events events is never split; one larger than max_events makes a
            # batch of its own.
            while backlog:
                job = backlog[0]
                size = min(len(job.events) - job.done, self.slice_events)
                if batch and count + size > self.max_events:
                    break
                backlog.popleft()
                batch.append(_Slice(job, job.done, job.done + size))
                count += size
            if backlog or count >= self.max_events or stopping:
                return batch, count, stopping
            try:
                wait = deadline - time.monotonic()
                item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                return batch, count, stopping
            if item is _STOP:
                return batch, count, True
            backlog.extend(cast(list[_Job], item))

    def _drain(self, backlog: deque[_Job]) -> bool:
        """Move every queued hand-off into `backlog` without waiting; whether the stop marker was among them."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            backlog.extend(cast(list[_Job], item))

    def _commit(self, batch: list[_Slice], count: int) -> list[_Job]:
        """Commit `batch`, answer the requests it finished or failed; the requests that have slices left."""
        started = time.monotonic()
        outcomes: list[IngestResult | BaseException]
        dropped = 0
        try:
            outcomes = self._outcomes(batch)
        finally:
            with self._lock:
                self._pending -= count
        if self._on_batch is not None:
            try:
                self._on_batch(count, time.monotonic() - started)
            except Exception as exc:  # a metrics hook must never stop the writer
                self._log_failure(exc)
        by_loop: dict[asyncio.AbstractEventLoop, list[_Pair]] = {}
        unfinished: list[_Job] = []
        for part, outcome in zip(batch, outcomes, strict=True):
            job = part.job
            if isinstance(outcome, BaseException):
                dropped += len(job.events) - part.end  # later slices of a failed request are never committed
                by_loop.setdefault(job.loop, []).append((job.future, outcome))
                continue
            job.result = combined(job.result, outcome) if part.start else outcome
            job.done = part.end
            if part.last:
                by_loop.setdefault(job.loop, []).append((job.future, job.result))
            else:
                unfinished.append(job)
        if dropped:
            with self._lock:
                self._pending -= dropped
        for loop, pairs in by_loop.items():  # one wake-up per loop, not one per request
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                loop.call_soon_threadsafe(_deliver, pairs)
        return unfinished

    def _outcomes(self, batch: list[_Slice]) -> list[IngestResult | BaseException]:
        if self._groups is None:
            return [self._one(part) for part in batch]
        try:
            return list(self._ingest_groups(batch))
        except Exception as exc:
            if len(batch) == 1:
                self._log_failure(exc)
                return [exc]
            return [self._one(part) for part in batch]  # find the request that failed; the others commit

    def _ingest_groups(self, batch: list[_Slice]) -> Sequence[IngestResult]:
        assert self._groups is not None
        results = self._groups.ingest_groups([part.events for part in batch])
        if len(results) != len(batch):
            raise TiationError(f"ingest_groups returned {len(results)} results for {len(batch)} groups")
        return results

    def _one(self, part: _Slice) -> IngestResult | BaseException:
        try:
            if self._groups is not None:
                return self._ingest_groups([part])[0]
            return self._ingestor.ingest(part.events)
        except Exception as exc:
            self._log_failure(exc)
            return exc

    @staticmethod
    def _log_failure(exc: Exception) -> None:
        log.error("ingest failed: %s: %s", type(exc).__name__, redact(str(exc)))
