"""The shipped fake notifier: records every call, answers as scripted."""

from __future__ import annotations

import threading
from datetime import timedelta

from notifier_samples import sample

from tiation.alerting.notifiers import Failed, FakeNotifier, Notification, RetryLater, SendResult, Sent

LATER = RetryLater(timedelta(seconds=5), "receiver down")


def test_scripted_results_then_the_default() -> None:
    fake = FakeNotifier("ops", [LATER, Failed("HTTP 400")])
    first, second, third = sample(key="a"), sample(key="b"), sample(key="c")
    assert [fake.send(n) for n in (first, second, third)] == [LATER, Failed("HTTP 400"), Sent()]
    assert fake.calls == [first, second, third]
    assert fake.delivered == [third]
    assert fake.remaining == 0
    assert fake.name == "ops"


def test_answers_may_depend_on_the_notification_and_be_added_later() -> None:
    def by_event(n: Notification) -> SendResult:
        return Failed("no resolves") if n.event == "resolve" else Sent("ok")

    fake = FakeNotifier(default=LATER)
    assert fake.send(sample()) == LATER
    fake.script(by_event, by_event)
    assert fake.send(sample(event="resolve")) == Failed("no resolves")
    assert fake.send(sample()) == Sent("ok")
    assert fake.results == [LATER, Failed("no resolves"), Sent("ok")]


def test_concurrent_sends_are_all_recorded() -> None:
    fake = FakeNotifier(results=[LATER] * 50)
    threads = [
        threading.Thread(target=lambda i=i: [fake.send(sample(key=f"{i}-{j}")) for j in range(20)])
        for i in range(10)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake.calls) == 200
    assert fake.results.count(LATER) == 50
    assert len({n.key for n in fake.calls}) == 200
