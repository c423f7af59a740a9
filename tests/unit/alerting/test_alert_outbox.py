"""The outbox: what each delivery result records (pure), and in-order delivery with backoff (fake notifier)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from fixtures.alerting_kit import T0, firing, make_service
from tiation.alerting.notifiers.base import Failed, RetryLater, Sent
from tiation.alerting.notifiers.fake import FakeNotifier
from tiation.alerting.outbox import BACKOFF_MAX, GIVE_UP_AFTER, OutboxWorker, backoff, deliver, outcome
from tiation.clock import FakeClock, SystemClock
from tiation.state.alert_rows import OutboxRow


def _row(attempts: int = 0, created_at=T0) -> OutboxRow:  # type: ignore[no-untyped-def]
    return OutboxRow(1, "k", "slack", "i1", {}, "pending", attempts, created_at, None, created_at, None)


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff(50) == BACKOFF_MAX


def test_outcomes() -> None:
    now = T0 + timedelta(seconds=30)
    assert outcome(_row(), Sent(), now).state == "sent"
    failed = outcome(_row(), Failed("HTTP 400"), now)
    assert (failed.state, failed.last_error) == ("failed", "HTTP 400")
    # a retry waits for the longer of the backoff and what the receiver asked for
    assert outcome(
        _row(attempts=3), RetryLater(timedelta(seconds=1), "503"), now
    ).next_attempt_at == now + timedelta(seconds=8)
    asked = outcome(_row(attempts=0), RetryLater(timedelta(seconds=90), "429"), now)
    assert (asked.state, asked.next_attempt_at, asked.last_error) == (
        "pending",
        now + timedelta(seconds=90),
        "429",
    )
    late = outcome(_row(attempts=40), RetryLater(timedelta(seconds=1), "down"), T0 + GIVE_UP_AFTER)
    assert late.state == "failed" and late.last_error == "gave up after 41 attempts: down"


def test_a_receiver_that_is_down_gets_everything_in_order_when_it_returns(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    svc = make_service(tmp_path, clock=clock)
    for i in range(3):
        svc.ingest([firing(service=f"s{i}", severity="info")])  # three incidents: slack only
    svc.fire_due()
    slack = FakeNotifier("slack", [RetryLater(timedelta(seconds=5), "HTTP 503")] * 4)
    rows, retry_at = deliver(svc.store, "slack", slack, clock)
    assert len(rows) == 1 and retry_at == T0 + timedelta(seconds=5)
    # while the head waits, nothing behind it is tried
    assert deliver(svc.store, "slack", slack, clock) == ([], T0 + timedelta(seconds=5))
    for _ in range(3):  # still down: each retry waits at least the 5 s the receiver asked for
        clock.advance(10)
        assert deliver(svc.store, "slack", slack, clock)[0]
    clock.advance(60)
    while deliver(svc.store, "slack", slack, clock)[0]:
        pass
    assert [n.labels["service"] for n in slack.delivered] == ["s0", "s1", "s2"]
    assert len(slack.calls) == 4 + 3
    with svc.store.read("t") as uow:
        tx = uow.alerts
        rows = tx.list_outbox()
    assert [r.state for r in rows] == ["sent"] * 3 and rows[0].attempts == 5 and rows[0].last_error is None


def test_a_permanent_failure_is_recorded_and_the_queue_moves_on(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    svc = make_service(tmp_path, clock=clock)
    svc.ingest([firing(service="a", severity="info")])
    svc.ingest([firing(service="b", severity="info")])
    svc.fire_due()
    slack = FakeNotifier("slack", [Failed("HTTP 400 invalid_payload")])
    deliver(svc.store, "slack", slack, clock)
    deliver(svc.store, "slack", slack, clock)
    with svc.store.read("t") as uow:
        tx = uow.alerts
        rows = tx.list_outbox()
    assert [(r.state, r.last_error) for r in rows] == [("failed", "HTTP 400 invalid_payload"), ("sent", None)]


def test_the_worker_delivers_in_the_background_when_woken(tmp_path: Path) -> None:
    svc = make_service(tmp_path, clock=FakeClock(T0))
    slack, pager = FakeNotifier("slack"), FakeNotifier("pager")
    worker = OutboxWorker(svc.store, {"slack": slack, "pager": pager}, SystemClock(), poll=5.0)
    worker.start()
    try:
        svc.ingest([firing()])
        svc.fire_due()
        worker.wake()
        deadline = time.monotonic() + 10
        while (not slack.delivered or not pager.delivered) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        worker.stop()
    assert [n.event for n in slack.delivered] == ["trigger"]
    assert [(n.event, n.recipient.name if n.recipient else None) for n in pager.delivered] == [
        ("trigger", "Ann")
    ]


def test_a_batch_stops_at_the_first_message_that_must_wait(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    svc = make_service(tmp_path, clock=clock)
    for i in range(4):
        svc.ingest([firing(service=f"s{i}", severity="info")])
    svc.fire_due()
    slack = FakeNotifier("slack", [Sent(), RetryLater(timedelta(seconds=3), "HTTP 503")])
    rows, retry_at = deliver(svc.store, "slack", slack, clock, limit=50)
    assert len(rows) == 2 and retry_at == T0 + timedelta(seconds=3)  # s2 and s3 were not tried
    with svc.store.read("t") as uow:
        tx = uow.alerts
        assert [(r.state, r.attempts) for r in tx.list_outbox()] == [
            ("sent", 1),
            ("pending", 1),
            ("pending", 0),
            ("pending", 0),
        ]
    clock.advance(3)
    rows, retry_at = deliver(svc.store, "slack", slack, clock, limit=50)
    assert len(rows) == 3 and retry_at is None
    assert [n.labels["service"] for n in slack.delivered] == ["s0", "s1", "s2", "s3"]
