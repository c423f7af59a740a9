"""Delivering the outbox: one worker thread per notifier, oldest message first, retries with backoff.

A notification is in the outbox (committed with the decision that caused it) before anyone tries to send it,
so a crash loses nothing. Each notifier's messages go out in the order they were queued: while the head of a
notifier's queue waits for a retry, the messages behind it wait too, so a receiver that was down for minutes
gets everything, in order, when it comes back. Delivery is at-least-once (a crash between a send and its
record re-sends it); every message carries an idempotency key receivers can deduplicate on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from tiation.alerting.messages import notification_of
from tiation.alerting.notifiers.base import Failed, Notifier, RetryLater, Sent
from tiation.clock import Clock
from tiation.errors import TiationError
from tiation.redact import redact
from tiation.state.alert_rows import OutboxRow
from tiation.state.store import StateStore

log = logging.getLogger("tiation.alerting.outbox")

BACKOFF_START = timedelta(seconds=1)
BACKOFF_MAX = timedelta(minutes=5)
BATCH = 50
"""Messages sent per round before their outcomes are recorded (in one transaction)."""
GIVE_UP_AFTER = timedelta(hours=24)
"""A message still undeliverable this long after it was queued is marked failed (and the next one goes)."""


def backoff(attempts: int) -> timedelta:
    """Exponential backoff after `attempts` failed tries: 1 s, 2 s, 4 s … capped at 5 minutes."""
    grown: timedelta = BACKOFF_START * (2 ** min(max(attempts - 1, 0), 20))
    return min(grown, BACKOFF_MAX)


@dataclass(frozen=True)
class Attempt:
    """What to record after one delivery attempt (pure: see `outcome`)."""

    state: str  # sent | pending | failed
    next_attempt_at: datetime
    last_error: str | None


def outcome(row: OutboxRow, result: Sent | RetryLater | Failed, now: datetime) -> Attempt:
    """The record of one attempt: sent, retry later (backoff, at least what the receiver asked), or failed."""
    if isinstance(result, Sent):
        return Attempt("sent", now, None)
    if isinstance(result, Failed):
        return Attempt("failed", now, result.reason)
    if now - row.created_at >= GIVE_UP_AFTER:
        return Attempt("failed", now, f"gave up after {row.attempts + 1} attempts: {result.reason}")
    wait = max(backoff(row.attempts + 1), result.after)
    return Attempt("pending", now + wait, result.reason)


def _send(notifier_name: str, notifier: Notifier, row: OutboxRow) -> Sent | RetryLater | Failed:
    try:
        return notifier.send(notification_of(row.payload))
    except TiationError as exc:
        return Failed(redact(str(exc)))
    except Exception as exc:  # a notifier bug must not kill the worker: record it, retry later
        log.exception("notifier %s raised", notifier_name)
        return RetryLater(backoff(row.attempts + 1), redact(f"{type(exc).__name__}: {exc}"))


def deliver(
    store: StateStore, notifier_name: str, notifier: Notifier, clock: Clock, *, limit: int = 1
) -> tuple[list[OutboxRow], datetime | None]:
    """Send up to `limit` due messages of one notifier, oldest first, stopping at the first that must wait.

    Returns the rows tried and when to look again (None: when woken). The outcomes are recorded in one
    transaction after the sends; a crash before that re-sends them (at least once, with idempotency keys).
    """
    with store.read("read the outbox") as uow:
        queue = uow.alerts.outbox_queue(notifier_name, limit)
    tried: list[tuple[OutboxRow, Attempt, datetime]] = []
    retry_at: datetime | None = None
    for row in queue:
        if row.next_attempt_at > clock.now():
            retry_at = row.next_attempt_at
            break
        attempt = outcome(row, _send(notifier_name, notifier, row), clock.now())
        tried.append((row, attempt, clock.now()))
        if attempt.state == "pending":  # the receiver must wait: so must everything queued behind it
            retry_at = attempt.next_attempt_at
            break
    if tried:
        with store.write("record deliveries") as uow:
            tx = uow.alerts
            for row, attempt, done in tried:
                tx.outbox_update(
                    row.id,
                    state=attempt.state,
                    attempts=row.attempts + 1,
                    next_attempt_at=attempt.next_attempt_at,
                    last_error=attempt.last_error,
                    sent_at=done if attempt.state == "sent" else None,
                )
    return [row for row, _, _ in tried], retry_at


class OutboxWorker:
    """Background delivery: a thread per notifier that wakes when told (`wake()`) or when a retry is due."""

    def __init__(
        self,
        store: StateStore,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        *,
        poll: float = 1.0,
        on_attempt: Callable[[str, OutboxRow], None] | None = None,
    ) -> None:
        self.store = store
        self.notifiers = dict(notifiers)
        self.clock = clock
        self.poll = poll
        self.on_attempt = on_attempt
        self._stop = threading.Event()
        self._wake = {name: threading.Event() for name in self.notifiers}
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start one thread per notifier."""
        for name in self.notifiers:
            thread = threading.Thread(
                target=self._run, args=(name,), name=f"tiation-outbox-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """New messages may be queued: look now."""
        for event in self._wake.values():
            event.set()

    def stop(self) -> None:
        """Stop after the current attempts finish."""
        self._stop.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()

    def _run(self, name: str) -> None:
        notifier, wake = self.notifiers[name], self._wake[name]
        while not self._stop.is_set():
            wake.clear()
            try:
                rows, retry_at = deliver(self.store, name, notifier, self.clock, limit=BATCH)
            except TiationError as exc:  # the state store is unreachable: try again shortly
                log.warning("outbox %s: %s", name, redact(str(exc)))
                rows, retry_at = [], None
            if self.on_attempt is not None:
                for row in rows:
                    self.on_attempt(name, row)
            if rows and retry_at is None:
                continue  # more may be queued already
            timeout = self.poll
            if retry_at is not None:
                timeout = min(timeout, max((retry_at - self.clock.now()).total_seconds(), 0.0))
            wake.wait(timeout)
