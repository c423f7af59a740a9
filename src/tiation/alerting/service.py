"""The alert engine: ingest batches of alert events, acknowledge and resolve incidents, fire escalation steps.

Each operation is one state-store transaction: it reads the facts, asks the pure stages in
`tiation.alerting.pipeline` what to do, and writes the outcome together with every decision's reason (the
incident timeline) and the notifications to send (the outbox). Delivery happens later, in `outbox.py`;
timers fire from `escalation.py`. Nothing here sleeps or talks to the network.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tiation.alerting import pipeline as stages
from tiation.alerting.escalation import fire_due
from tiation.alerting.messages import WhoIsOnCall, deploy_context, follow_ups, title_of
from tiation.alerting.model import AlertEvent, IngestResult
from tiation.alerting.silence_service import stored_silences
from tiation.clock import Clock
from tiation.config.alerting import Silence
from tiation.config.models import Platform
from tiation.errors import AlertError
from tiation.state.alert_rows import AlertRow, IncidentRow
from tiation.state.alerts import OPEN_STATES, AlertTx, RecentDeploy, recent_deployments
from tiation.state.store import StateStore

DEPLOY_LOOKBACK = timedelta(days=7)
"""How far back an incident looks for the deploy that preceded it."""


def new_incident_id() -> str:
    """A short random incident id."""
    return "i" + secrets.token_hex(5)


def schedule_resolver(platform: Platform, store: StateStore) -> WhoIsOnCall:
    """Who is on call, from the platform file's schedules plus stored overrides."""
    from tiation.oncall.service import load_schedule

    def who(schedule: str, at: datetime) -> list[str]:
        sched = load_schedule(platform, schedule, store, start=at, end=at)
        person, _source = sched.on_call(at)
        return [] if person is None else [person]

    return who


@dataclass
class _Batch:
    """What one ingest call has changed so far (later events in the batch see earlier ones)."""

    now: datetime
    alerts: dict[str, AlertRow]
    open_by_key: dict[str, IncidentRow]
    incidents: dict[str, IncidentRow]
    new_incidents: list[dict[str, Any]] = field(default_factory=list)
    new_alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed_alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    touched: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    resolved: set[str] = field(default_factory=set)
    """Incidents an alert of this batch resolved in (closed if none of their alerts still fires)."""
    acks: list[str] = field(default_factory=list)
    silences: list[tuple[int, Silence]] = field(default_factory=list)
    deploys: dict[tuple[str, str | None], RecentDeploy] = field(default_factory=dict)


class AlertService:
    """Incidents from alerts, for one platform and state store."""

    def __init__(
        self,
        platform: Platform,
        store: StateStore,
        clock: Clock,
        *,
        who: WhoIsOnCall | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.platform = platform
        self.cfg = platform.alerting
        self.store = store
        self.clock = clock
        self.who = who or schedule_resolver(platform, store)
        self.on_change = on_change
        """Called after a commit that queued notifications or steps (wakes the outbox and the timers)."""

    # ingest -----------------------------------------------------------------------------------------------

    def ingest(self, events: Sequence[AlertEvent]) -> IngestResult:
        """Run a batch of alert events through the pipeline in one transaction."""
        return self.ingest_groups([events])[0]

    def ingest_groups(self, groups: Sequence[Sequence[AlertEvent]]) -> list[IngestResult]:
        """Several requests' events in one transaction (group commit), with one result per request."""
        now = self.clock.now()
        events = [e for group in groups for e in group]
        results: list[IngestResult] = []
        with self.store.write("ingest alerts") as uow:
            tx = uow.alerts
            fps = [e.fingerprint for e in events]
            known = tx.alerts_by_fingerprint(fps)
            keys = [stages.group_key(e.labels, self.cfg.group_by) for e in events]
            open_by_key = tx.open_incidents_by_key(keys)
            linked = [a.incident_id for a in known.values() if a.incident_id]
            incidents = {**tx.incidents_by_id(linked), **{i.id: i for i in open_by_key.values()}}
            services = [e.labels["service"] for e in events if "service" in e.labels]
            deploys = recent_deployments(tx, services, now, now - DEPLOY_LOOKBACK) if services else {}
            batch = _Batch(
                now, known, open_by_key, incidents, silences=stored_silences(tx, now), deploys=deploys
            )
            at = 0
            for group in groups:
                counts = {"new": 0, "duplicates": 0, "resolved": 0, "acknowledged": 0, "silenced": 0}
                seen: dict[str, None] = {}
                for event in group:
                    outcome, incident_id = self._one(batch, event, fps[at], keys[at])
                    at += 1
                    counts[outcome] += 1
                    if incident_id is not None:
                        seen[incident_id] = None
                results.append(IngestResult(received=len(group), incidents=tuple(seen), **counts))
            self._write(tx, batch)
            for incident_id in batch.resolved:
                self._maybe_resolve(tx, batch, incident_id)
            for incident_id in dict.fromkeys(batch.acks):
                self._acknowledge(tx, incident_id, actor="source", at=now)
        if batch.steps or batch.resolved or batch.acks:
            self.on_change()
        return results

    def _known(self, batch: _Batch, fp: str) -> stages.KnownAlert | None:
        row = batch.new_alerts.get(fp) or batch.changed_alerts.get(fp)
        if row is not None:
            incident_id = row["incident_id"]
            status = row["status"]
        elif fp in batch.alerts:
            incident_id, status = batch.alerts[fp].incident_id, batch.alerts[fp].status
        else:
            return None
        incident = batch.incidents.get(incident_id) if incident_id else None
        is_open = incident is not None and incident.state in OPEN_STATES
        return stages.KnownAlert(status, incident_id, is_open)

    def _one(self, batch: _Batch, event: AlertEvent, fp: str, key: str) -> tuple[str, str | None]:
        known = self._known(batch, fp)
        incident = batch.open_by_key.get(key)
        facts = stages.Facts(
            event.labels,
            self.cfg,
            batch.now,
            batch.silences,
            event=event,
            known=known,
            open_incident=incident.id if incident is not None else None,
            key=key,
        )
        verdict = stages.run(stages.PIPELINE, facts)
        decision = verdict.decisions[0]
        if decision.outcome in ("duplicate", "stale-resolve"):
            if decision.outcome == "duplicate" and fp not in batch.new_alerts:
                batch.touched.append(fp)
            return "duplicates", known.incident_id if known else None
        assert decision.outcome == "new" or known is not None
        if decision.outcome == "acknowledge":
            assert known is not None and known.incident_id is not None
            batch.acks.append(known.incident_id)
            return "acknowledged", known.incident_id
        if decision.outcome == "resolve":
            assert known is not None
            self._set_alert(batch, fp, event, known.incident_id, "resolved")
            if known.incident_id is not None:
                batch.resolved.add(known.incident_id)
                self._event(batch, known.incident_id, decision, fp)
            return "resolved", known.incident_id
        # new, or fires again after it was resolved: joins `incident` (the pipeline halted) or opens one
        if incident is not None:
            for d in verdict.decisions:
                self._event(batch, incident.id, d, fp)
        else:
            incident = self._open(batch, event, key, verdict, fp)
        self._set_alert(batch, fp, event, incident.id, "firing", fresh=True)
        return ("silenced" if verdict.silenced else "new"), incident.id

    def _set_alert(
        self,
        batch: _Batch,
        fp: str,
        event: AlertEvent,
        incident_id: str | None,
        status: str,
        *,
        fresh: bool = False,
    ) -> None:
        now = batch.now
        previous = batch.new_alerts.get(fp) or batch.changed_alerts.get(fp)
        stored = batch.alerts.get(fp)
        row = {
            "fingerprint": fp,
            "incident_id": incident_id,
            "status": status,
            "source": event.source,
            "labels": dict(event.labels),
            "annotations": dict(event.annotations),
            "starts_at": event.starts_at,
            "first_seen_at": now
            if fresh or (previous is None and stored is None)
            else (
                previous["first_seen_at"] if previous else stored.first_seen_at  # type: ignore[union-attr]
            ),
            "last_seen_at": now,
            "resolved_at": now if status == "resolved" else None,
            "received": 1
            if fresh
            else ((previous or {}).get("received") or (stored.received if stored else 0)) + 1,
        }
        if fp in batch.new_alerts or (stored is None and fp not in batch.changed_alerts):
            batch.new_alerts[fp] = row
        else:
            batch.changed_alerts[fp] = row

    def _event(self, batch: _Batch, incident_id: str, d: stages.Decision, fp: str | None = None) -> None:
        batch.events.append(
            {
                "incident_id": incident_id,
                "at": batch.now,
                "stage": d.stage,
                "outcome": d.outcome,
                "reason": d.reason,
                "fingerprint": fp,
            }
        )

    def _open(
        self, batch: _Batch, event: AlertEvent, key: str, verdict: stages.Verdict, fp: str
    ) -> IncidentRow:
        """A new incident, its timeline (every stage's decision) and its planned escalation steps."""
        now, labels = batch.now, event.labels
        deploy = None
        if "service" in labels:
            deploy = batch.deploys.get((labels["service"], labels.get("environment")))
        incident = IncidentRow(
            id=new_incident_id(),
            group_key=key,
            state="triggered",
            severity=verdict.severity_name,
            policy=verdict.policy_name,
            title=title_of(verdict.severity_name, labels),
            labels=dict(labels),
            silenced=verdict.silenced is not None,
            deployment_id=deploy.id if deploy else None,
            opened_at=now,
            acknowledged_at=None,
            acknowledged_by=None,
            resolved_at=None,
            resolved_by=None,
        )
        batch.new_incidents.append(
            {k: getattr(incident, k) for k in IncidentRow.__dataclass_fields__} | {"state": "triggered"}
        )
        batch.open_by_key[key] = incident
        batch.incidents[incident.id] = incident
        for d in verdict.decisions:
            self._event(batch, incident.id, d, fp)
        if deploy is not None:
            self._event(batch, incident.id, deploy_context(deploy, now))
        batch.steps.extend(
            {
                "incident_id": incident.id,
                "ordinal": step.ordinal,
                "step": step.step,
                "round": step.repeat,
                "due_at": step.due_at,
            }
            for step in verdict.plan
        )
        return incident

    def _write(self, tx: AlertTx, batch: _Batch) -> None:
        tx.insert_incidents(batch.new_incidents)
        tx.upsert_alerts(list(batch.new_alerts.values()), list(batch.changed_alerts.values()))
        tx.touch_alerts([fp for fp in batch.touched if fp not in batch.changed_alerts], batch.now)
        tx.add_events(batch.events)
        tx.add_steps(batch.steps)

    # acknowledge / resolve --------------------------------------------------------------------------------

    def _maybe_resolve(self, tx: AlertTx, batch: _Batch, incident_id: str) -> None:
        incident = tx.incidents_by_id([incident_id]).get(incident_id)
        if incident is None or incident.state not in OPEN_STATES:
            return
        if tx.firing_count(incident_id) == 0:
            self._close(
                tx, incident, actor="source", at=batch.now, why="every alert of the incident resolved"
            )

    def acknowledge(self, incident_id: str, *, actor: str) -> IncidentRow:
        """Stop escalation: cancel pending steps; tell the notifiers that were paged."""
        with self.store.write("acknowledge an incident") as uow:
            tx = uow.alerts
            incident = self._require(tx, incident_id)
            if incident.state != "triggered":
                raise AlertError(
                    f"incident {incident.id} is {incident.state}: only a triggered one can be acknowledged"
                )
            self._acknowledge(tx, incident.id, actor=actor, at=self.clock.now())
            result = tx.incidents_by_id([incident.id])[incident.id]
            uow.audit.record(
                actor=actor, action="alerts.ack", details={"incident": result.id, "title": result.title}
            )
        self.on_change()
        return result

    def _acknowledge(self, tx: AlertTx, incident_id: str, *, actor: str, at: datetime) -> None:
        incident = tx.incidents_by_id([incident_id])[incident_id]
        if incident.state != "triggered":
            return
        cancelled = tx.cancel_steps(incident_id)
        tx.set_incident(incident_id, state="acknowledged", acknowledged_at=at, acknowledged_by=actor)
        tx.add_events(
            [
                {
                    "incident_id": incident_id,
                    "at": at,
                    "stage": "acknowledge",
                    "outcome": "acknowledged",
                    "reason": f"acknowledged by {actor}: {cancelled} pending step(s) cancelled",
                    "actor": actor,
                }
            ]
        )
        self._follow_up(tx, incident, "acknowledge", at)

    def resolve(self, incident_id: str, *, actor: str) -> IncidentRow:
        """Close an incident by hand: cancel pending steps and tell the notifiers that were paged."""
        with self.store.write("resolve an incident") as uow:
            tx = uow.alerts
            incident = self._require(tx, incident_id)
            if incident.state not in OPEN_STATES:
                raise AlertError(f"incident {incident.id} is already resolved")
            self._close(tx, incident, actor=actor, at=self.clock.now(), why=f"resolved by {actor}")
            result = tx.incidents_by_id([incident.id])[incident.id]
            uow.audit.record(
                actor=actor, action="alerts.resolve", details={"incident": result.id, "title": result.title}
            )
        self.on_change()
        return result

    def _close(self, tx: AlertTx, incident: IncidentRow, *, actor: str, at: datetime, why: str) -> None:
        cancelled = tx.cancel_steps(incident.id)
        tx.set_incident(incident.id, state="resolved", resolved_at=at, resolved_by=actor)
        tx.add_events(
            [
                {
                    "incident_id": incident.id,
                    "at": at,
                    "stage": "resolve",
                    "outcome": "resolved",
                    "reason": f"{why}; {cancelled} pending step(s) cancelled",
                    "actor": actor,
                }
            ]
        )
        self._follow_up(tx, incident, "resolve", at)

    def _follow_up(self, tx: AlertTx, incident: IncidentRow, kind: str, at: datetime) -> None:
        """Tell every (notifier, person) that got a page for this incident that it is acknowledged/resolved."""
        tx.enqueue(follow_ups(tx.list_outbox(incident_id=incident.id), incident.id, kind, at), at)

    def _require(self, tx: AlertTx, incident_id: str) -> IncidentRow:
        incident = tx.get_incident(incident_id)
        if incident is None:
            raise AlertError(f"no incident {incident_id!r} (see: tiation alerts list)")
        return incident

    # escalation -------------------------------------------------------------------------------------------

    def fire_due(self, now: datetime | None = None, *, limit: int = 100) -> int:
        """Fire every escalation step due by `now`, each exactly once (see `tiation.alerting.escalation`)."""
        return fire_due(self, now, limit=limit)

    def next_due(self) -> datetime | None:
        """When the next pending escalation step is due."""
        with self.store.read("read escalation steps") as uow:
            tx = uow.alerts
            return tx.next_due()
