"""A scripted notifier for tests of the pipeline and the outbox (shipped, like the fake target).

It records every notification it is given and answers with the next scripted result (then `default`). A
result may also be a callable of the notification, for answers that depend on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from tiation.alerting.notifiers.base import Notification, SendResult, Sent

Answer = SendResult | Callable[[Notification], SendResult]
SENT = Sent()


class FakeNotifier:
    """Records notifications and returns scripted results; thread-safe."""

    kind = "fake"

    def __init__(self, name: str = "fake", results: Iterable[Answer] = (), *, default: Answer = SENT) -> None:
        self.name = name
        self.default = default
        self._script = list(results)
        self._lock = threading.Lock()
        self.calls: list[Notification] = []
        """Every notification `send` was given, in order (including those answered with a retry or failure)."""
        self.results: list[SendResult] = []
        """What each call returned, in order."""

    def script(self, *results: Answer) -> None:
        """Append results to answer the next calls with."""
        with self._lock:
            self._script.extend(results)

    def send(self, notification: Notification) -> SendResult:
        """Record `notification`; return the next scripted result (or `default`)."""
        with self._lock:
            answer = self._script.pop(0) if self._script else self.default
            result = answer(notification) if callable(answer) else answer
            self.calls.append(notification)
            self.results.append(result)
            return result

    @property
    def delivered(self) -> list[Notification]:
        """The notifications answered with `Sent`, in order."""
        with self._lock:
            return [n for n, r in zip(self.calls, self.results, strict=True) if isinstance(r, Sent)]

    @property
    def remaining(self) -> int:
        """How many scripted results are still unused."""
        with self._lock:
            return len(self._script)

    def close(self) -> None:
        """Nothing to close (the same method as the real notifiers)."""

    def __repr__(self) -> str:
        return f"FakeNotifier({self.name!r})"
