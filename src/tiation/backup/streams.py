"""Byte streams between threads: a bounded hand-off (`Pipe`), its producer thread, and a read()-able view.

The backup pipeline and the restore path join their worker threads (pg_dump reader, zstd, age) with these,
so memory stays bounded: a producer blocks once `depth` chunks wait for the consumer.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator

from tiation.clock import Clock

_QUEUE_DEPTH = 8
_END = object()


class Cancelled(Exception):
    """The consumer of a Pipe went away; the producer stops."""


class Pipe:
    """A bounded hand-off of byte chunks from one producer thread to the consuming thread.

    The producer writes (it is a file-like `write` target for pyrage) and ends with `finish`; the consumer
    iterates `chunks()`, which re-raises the producer's failure. `cancel()` makes a blocked producer stop.
    """

    def __init__(self, clock: Clock, depth: int = _QUEUE_DEPTH) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._clock = clock
        self.failure: BaseException | None = None
        self.producer_blocked = 0.0  # seconds the producer waited for the consumer

    def write(self, data: bytes) -> int:
        """Producer side: hand over one chunk (blocks while the queue is full)."""
        self._put(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: chunks are handed over as written."""

    def _put(self, item: object) -> None:
        start = self._clock.monotonic()
        try:
            while True:
                if self._stop.is_set():
                    raise Cancelled
                try:
                    self._queue.put(item, timeout=0.05)
                    return
                except queue.Full:
                    continue
        finally:
            self.producer_blocked += self._clock.monotonic() - start

    def finish(self, failure: BaseException | None) -> None:
        """Producer side: the end of the stream (with the failure that ended it, if any)."""
        self.failure = failure
        with contextlib.suppress(Cancelled):
            self._put(_END)

    def cancel(self) -> None:
        """Consumer side: stop the producer (it raises Cancelled on its next write)."""
        self._stop.set()

    def chunks(self) -> Iterator[bytes]:
        """Consumer side: the chunks, in order; raises the producer's failure at the end."""
        while True:
            item = self._queue.get()
            if item is _END:
                if self.failure is not None:
                    raise self.failure
                return
            assert isinstance(item, bytes)
            yield item


def start_producer(pipe: Pipe, work: Callable[[], None], name: str) -> threading.Thread:
    """Run `work` on a daemon thread that finishes `pipe` with work's outcome."""

    def run() -> None:
        failure: BaseException | None = None
        try:
            work()
        except BaseException as exc:
            failure = exc
        pipe.finish(failure)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


class IterReader:
    """A read()-able file over an iterator of byte chunks (what pyrage pulls from)."""

    def __init__(self, chunks: Iterator[bytes], clock: Clock) -> None:
        self._chunks = chunks
        self._buf = bytearray()
        self._eof = False
        self._clock = clock
        self.failure: BaseException | None = None  # what the iterator raised (pyrage rewraps it)
        self.seconds = 0.0  # time spent inside the iterator

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all that is left if size < 0); b"" at the end."""
        start = self._clock.monotonic()
        try:
            while not self._eof and (size < 0 or len(self._buf) < size):
                try:
                    self._buf += next(self._chunks)
                except StopIteration:
                    self._eof = True
        except BaseException as exc:
            self.failure = exc
            raise
        finally:
            self.seconds += self._clock.monotonic() - start
        n = len(self._buf) if size < 0 else min(size, len(self._buf))
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out
