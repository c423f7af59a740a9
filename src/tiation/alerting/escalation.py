"""Escalation timers: fire steps when due, from the state store, so a restart loses none and repeats none.

Steps are rows with a due time. `fire_due` fires each due step in its own transaction, flipping it from
`pending` to `fired` only if it is still pending (so two servers, or a server and its restarted self, never
fire a step twice) and queueing its notifications in the same transaction. A step that falls due while a
silence covers the incident is postponed, with every later step, to the silence's end — silences delay
escalation, they never swallow it. `EscalationTimers` runs this in a thread that sleeps until the next due
step (at most `poll` seconds); after a restart its first pass catches up on every step that fell due.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from tiation.alerting import pipeline as stages
from tiation.alerting.messages import WhoIsOnCall, deliveries, payload
from tiation.alerting.silence_service import stored_silences
from tiation.clock import Clock
from tiation.config.alerting import Alerting, Target
from tiation.config.models import Platform
from tiation.errors import TiationError
from tiation.redact import redact
from tiation.state.alert_rows import AlertRow, StepRow
from tiation.state.alerts import AlertTx
from tiation.state.store import StateStore

log = logging.getLogger("tiation.alerting.escalation")


class Escalating(Protocol):
    """What firing steps needs of the alert engine (`AlertService` is one); keeps this module below it."""

    @property
    def platform(self) -> Platform: ...
    @property
    def cfg(self) -> Alerting: ...
    @property
    def store(self) -> StateStore: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def who(self) -> WhoIsOnCall: ...

    def on_change(self) -> None:
        """Wake the outbox and the timers after a commit that queued notifications."""


class Timed(Protocol):
    """What the timer thread drives: fire due steps, and say when the next one is due."""

    @property
    def clock(self) -> Clock: ...

    def fire_due(self) -> int:
        """Fire what is due now; how many fired."""

    def next_due(self) -> datetime | None:
        """When the next pending step is due."""


def fire_due(svc: Escalating, now: datetime | None = None, *, limit: int = 100) -> int:
    """Fire every escalation step due by `now`, each exactly once; how many fired.

    Due steps are fired in batches of up to `limit`, one transaction per batch: each step is flipped from
    `pending` to `fired` only if it still is, in the transaction that queues its notifications.
    """
    now = now or svc.clock.now()
    fired = 0
    while True:
        with svc.store.write("fire escalation steps") as uow:
            tx = uow.alerts
            due = tx.due_steps(now, limit)
            at = svc.clock.now()
            silences = stored_silences(tx, at) if due else []
            postponed: set[str] = set()
            for step in due:
                if step.incident_id in postponed:
                    continue
                incident = tx.incidents_by_id([step.incident_id])[step.incident_id]
                silenced = stages.silencing(incident.labels, svc.cfg, at, silences)
                if silenced is not None:
                    _postpone(tx, step, silenced, at)
                    postponed.add(step.incident_id)
                    continue
                if tx.fire_step(step.id, at):
                    fired += 1
                    _fire(svc, tx, step, at)
        if len(due) < limit:
            break
    if fired:
        svc.on_change()
    return fired


def _postpone(tx: AlertTx, step: StepRow, silenced: tuple[stages.Decision, datetime], at: datetime) -> None:
    decision, until = silenced
    shift = until - step.due_at
    moved = tx.shift_pending_steps(step.incident_id, shift)
    tx.add_events(
        [
            {
                "incident_id": step.incident_id,
                "at": at,
                "stage": "silence",
                "outcome": "postponed",
                "reason": f"{decision.reason}; {moved} step(s) moved by {shift}",
            }
        ]
    )


def _kind(step: StepRow) -> str:
    if step.step == stages.CHANNELS_STEP or (step.step == 0 and step.round == 0):
        return "trigger"
    return "repeat" if step.step == 0 else "escalate"


def _fire(svc: Escalating, tx: AlertTx, step: StepRow, now: datetime) -> None:
    incident = tx.incidents_by_id([step.incident_id])[step.incident_id]
    label = stages.step_label(step.step, step.round)
    targets: list[Target]
    if step.step == stages.CHANNELS_STEP:
        severity = svc.cfg.severities.get(incident.severity)
        targets = [Target(channel=c) for c in (severity.channels if severity else [])]
    else:
        policy = svc.cfg.policies.get(incident.policy or "")
        if policy is None or step.step >= len(policy.steps):
            tx.add_events(
                [
                    {
                        "incident_id": incident.id,
                        "at": now,
                        "stage": "escalate",
                        "outcome": "skipped",
                        "reason": f"{label}: policy {incident.policy!r} no longer has it",
                    }
                ]
            )
            return
        targets = list(policy.steps[step.step].notify)
    planned, notes = deliveries(targets, step.due_at, svc.who)
    latest = _latest(tx.alerts_of(incident.id))
    kind = _kind(step)
    rows = []
    for d in planned:
        key = f"{incident.id}:step{step.ordinal}:{d.slug}"
        data = payload(
            svc.platform,
            incident,
            key=key,
            event=kind,
            summary=_summary(latest),
            annotations=latest.annotations if latest else {},
            person=d.person,
            at=now,
        )
        rows.append({"key": key, "notifier": d.notifier, "incident_id": incident.id, "payload": data})
    tx.enqueue(rows, now)
    who = ", ".join(f"{d.person} via {d.notifier}" if d.person else d.notifier for d in planned) or "nobody"
    late = (now - step.due_at).total_seconds()
    reason = f"{label}: notified {who} ({late:.3f}s after due)"
    if notes:
        reason += "; " + "; ".join(notes)
    tx.add_events(
        [{"incident_id": incident.id, "at": now, "stage": "escalate", "outcome": kind, "reason": reason}]
    )


def _latest(alerts: list[AlertRow]) -> AlertRow | None:
    return max(alerts, key=lambda a: a.last_seen_at) if alerts else None


def _summary(alert: AlertRow | None) -> str:
    if alert is None:
        return ""
    a = alert.annotations
    return a.get("summary") or a.get("description") or alert.labels.get("alertname", "alert")


class EscalationTimers:
    """Background firing of due escalation steps for one alert engine (an `AlertService`)."""

    def __init__(
        self, service: Timed, *, poll: float = 1.0, on_fired: Callable[[int], None] | None = None
    ) -> None:
        self.service = service
        self.poll = poll
        self.on_fired = on_fired
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the timer thread (it first catches up on steps that fell due while stopped)."""
        self._thread = threading.Thread(target=self._run, name="tiation-escalation", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Steps may have been planned or cancelled: look again now."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def tick(self) -> float:
        """Fire what is due; how long to sleep before the next look."""
        fired = self.service.fire_due()
        if fired and self.on_fired is not None:
            self.on_fired(fired)
        upcoming = self.service.next_due()
        if upcoming is None:
            return self.poll
        wait = (upcoming - self.service.clock.now()).total_seconds()
        return min(max(wait, 0.0), self.poll)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                wait = self.tick()
            except TiationError as exc:
                log.warning("escalation timers: %s", redact(str(exc)))
                wait = self.poll
            if wait > 0:
                self._wake.wait(wait)
