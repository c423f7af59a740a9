"""Group commit: one writer thread turns whatever requests have queued into one `ingest` transaction.

Requests are parsed and authenticated on the event loop and handed over as (events, future); those that reach
`submit` in the same loop iteration travel together (one wake-up of the writer). The writer takes the first
waiting jobs, then everything else already queued (up to `max_events` events, whole requests only; optionally
lingering a little for more), commits it as one batch and resolves each request's future with its own result
(one wake-up of the loop per batch). A request is
answered only after its batch is committed. Under light load a batch is one request (no added latency); under
heavy load a batch grows while the previous one commits, which is what keeps throughput up.

Each request needs its own result ("2 new, 1 duplicate"). An ingestor that implements `GroupIngestor` gets
the whole batch in one call (one transaction) and returns one result per request. A plain `Ingestor` (only
`ingest`) is called once per request, still on the one writer thread, so results stay exact.

A batch that fails is retried request by request, so one bad request cannot fail the others; a request whose
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
from dataclasses import dataclass
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


class GroupCommitter:
    """The single writer thread between the event loop and the ingestor."""

    def __init__(
        self,
        ingestor: Ingestor,
        *,
        max_events: int = 1000,
        linger: float = 0.0,
        max_pending: int = 50_000,
        on_batch: BatchHook | None = None,
    ) -> None:
        self._ingestor = ingestor
        self._groups = ingestor if isinstance(ingestor, GroupIngestor) else None
        self.max_events = max_events
        self.linger = linger
        self.max_pending = max_pending
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
            batch: list[_Job] = []
            count = 0
            deadline = time.monotonic() + self.linger
            while True:
                # Whole requests only; one larger than max_events makes a batch of its own.
                while backlog and (not batch or count + len(backlog[0].events) <= self.max_events):
                    job = backlog.popleft()
                    batch.append(job)
                    count += len(job.events)
                if backlog or count >= self.max_events or stopping:
                    break
                try:
                    wait = deadline - time.monotonic()
                    item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                backlog.extend(cast(list[_Job], item))
            self._commit(batch, count)

    def _commit(self, batch: list[_Job], count: int) -> None:
        started = time.monotonic()
        outcomes: list[IngestResult | BaseException]
        try:
            if self._groups is None:
                outcomes = [self._one(job) for job in batch]
            else:
                try:
                    outcomes = list(self._ingest_groups(batch))
                except Exception as exc:
                    if len(batch) == 1:
                        self._log_failure(exc)
                        outcomes = [exc]
                    else:  # find the request that failed; the others still commit
                        outcomes = [self._one(job) for job in batch]
        finally:
            with self._lock:
                self._pending -= count
        if self._on_batch is not None:
            try:
                self._on_batch(count, time.monotonic() - started)
            except Exception as exc:  # a metrics hook must never stop the writer
                self._log_failure(exc)
        by_loop: dict[asyncio.AbstractEventLoop, list[_Pair]] = {}
        for job, outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(job.loop, []).append((job.future, outcome))
        for loop, pairs in by_loop.items():  # one wake-up per loop, not one per request
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                loop.call_soon_threadsafe(_deliver, pairs)

    def _ingest_groups(self, batch: list[_Job]) -> Sequence[IngestResult]:
        assert self._groups is not None
        results = self._groups.ingest_groups([job.events for job in batch])
        if len(results) != len(batch):
            raise TiationError(f"ingest_groups returned {len(results)} results for {len(batch)} groups")
        return results

    def _one(self, job: _Job) -> IngestResult | BaseException:
        try:
            if self._groups is not None:
                return self._ingest_groups([job])[0]
            return self._ingestor.ingest(job.events)
        except Exception as exc:
            self._log_failure(exc)
            return exc

    @staticmethod
    def _log_failure(exc: Exception) -> None:
        log.error("ingest failed: %s: %s", type(exc).__name__, redact(str(exc)))
