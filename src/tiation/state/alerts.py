"""Incidents, alerts, timelines, escalation timers and the outbox, on one connection (`AlertTx`).

The alerting service runs each decision inside one transaction: a batch of alerts, one fired escalation step,
one delivery result. `StateStore.write()` / `read()` hand out a unit of work whose `alerts` is an `AlertTx`
bound to that transaction. Exactly-once timers rest on `fire_step`: it flips a step from `pending` to `fired`
only if it is still pending, in the same transaction that queues the step's notifications.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, func, insert, select, update

from tiation.state.alert_rows import (
    AlertRow,
    EventRow,
    IncidentRow,
    OutboxRow,
    SilenceRow,
    StepRow,
    alert_row,
    event_row,
    incident_row,
    outbox_row,
    silence_row,
    step_row,
)
from tiation.state.mapper import RowMapper, utc
from tiation.state.repository import Repository
from tiation.state.schema import alerts, escalation_steps, incident_events, incidents, outbox, silences

OPEN_STATES = ("triggered", "acknowledged")

# The hot statements of intake, built once: SQLAlchemy then reuses their cache keys and compiled SQL.
_ALERTS_BY_FP = select(alerts).where(alerts.c.fingerprint.in_(bindparam("keys", expanding=True)))
_OPEN_BY_KEY = select(incidents).where(
    incidents.c.group_key.in_(bindparam("keys", expanding=True)), incidents.c.state.in_(OPEN_STATES)
)
_INCIDENTS_BY_ID = select(incidents).where(incidents.c.id.in_(bindparam("keys", expanding=True)))
_TOUCH = (
    update(alerts)
    .where(alerts.c.fingerprint.in_(bindparam("keys", expanding=True)))
    .values(received=alerts.c.received + 1, last_seen_at=bindparam("at"))
)
_ACTIVE_SILENCES = (
    select(silences)
    .where(silences.c.starts_at <= bindparam("at"), silences.c.ends_at > bindparam("at"))
    .order_by(silences.c.id.desc())
)
_INSERT_INCIDENTS = insert(incidents)
_INSERT_ALERTS = insert(alerts)
_INSERT_EVENTS = insert(incident_events)
_INSERT_STEPS = insert(escalation_steps)


RowT = TypeVar("RowT")


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class AlertTx(Repository):
    """The alerting tables, inside one transaction (`uow.alerts`)."""

    # alerts and incidents ---------------------------------------------------------------------------------

    def alerts_by_fingerprint(self, fingerprints: Sequence[str]) -> dict[str, AlertRow]:
        """Known alerts among `fingerprints`."""
        return self._keyed(_ALERTS_BY_FP, fingerprints, alert_row, by="fingerprint")

    def open_incidents_by_key(self, keys: Sequence[str]) -> dict[str, IncidentRow]:
        """Open (triggered or acknowledged) incidents among these group keys."""
        return self._keyed(_OPEN_BY_KEY, keys, incident_row, by="group_key")

    def incidents_by_id(self, ids: Sequence[str]) -> dict[str, IncidentRow]:
        """Incidents among these ids."""
        return self._keyed(_INCIDENTS_BY_ID, ids, incident_row, by="id")

    def _keyed(
        self, query: Select[Any], keys: Sequence[str], build: RowMapper[RowT], *, by: str
    ) -> dict[str, RowT]:
        """The rows `query` finds for `keys` (bound as `keys`, a chunk at a time), built and keyed by column `by`."""
        found: dict[str, RowT] = {}
        for part in _chunks(sorted(set(keys))):
            for r in self.conn.execute(query, {"keys": list(part)}):
                found[r._mapping[by]] = build(r)
        return found

    def get_incident(self, incident_id: str) -> IncidentRow | None:
        """An incident by id or unique prefix."""
        rows = self.conn.execute(
            select(incidents).where(incidents.c.id.like(incident_id.replace("%", "") + "%")).limit(2)
        ).all()
        return incident_row(rows[0]) if len(rows) == 1 else None

    def list_incidents(self, *, states: Sequence[str] = (), limit: int = 100) -> list[IncidentRow]:
        """Incidents, newest first, optionally only in `states`."""
        query = select(incidents).order_by(incidents.c.seq.desc()).limit(limit)
        if states:
            query = query.where(incidents.c.state.in_(states))
        return [incident_row(r) for r in self.conn.execute(query)]

    def insert_incidents(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert new incidents (`labels` as a dict)."""
        if rows:
            self.conn.execute(_INSERT_INCIDENTS, [{**r, "labels": json.dumps(r["labels"])} for r in rows])

    def set_incident(self, incident_id: str, **values: Any) -> None:
        """Update columns of one incident."""
        self.conn.execute(update(incidents).where(incidents.c.id == incident_id).values(**values))

    def upsert_alerts(self, new: Sequence[Mapping[str, Any]], changed: Sequence[Mapping[str, Any]]) -> None:
        """Insert `new` alert rows and replace `changed` ones (labels/annotations as dicts)."""

        def encode(r: Mapping[str, Any]) -> dict[str, Any]:
            return {**r, "labels": json.dumps(r["labels"]), "annotations": json.dumps(r["annotations"])}

        if new:
            self.conn.execute(_INSERT_ALERTS, [encode(r) for r in new])
        for r in changed:
            values = encode(r)
            fp = values.pop("fingerprint")
            self.conn.execute(update(alerts).where(alerts.c.fingerprint == fp).values(**values))

    def touch_alerts(self, fingerprints: Sequence[str], at: datetime) -> None:
        """Count one more receipt of each (duplicate) alert and move its last-seen time."""
        for part in _chunks(list(fingerprints)):
            self.conn.execute(_TOUCH, {"keys": list(part), "at": at})

    def alerts_of(self, incident_id: str) -> list[AlertRow]:
        """The alerts of one incident."""
        query = select(alerts).where(alerts.c.incident_id == incident_id).order_by(alerts.c.first_seen_at)
        return [alert_row(r) for r in self.conn.execute(query)]

    def firing_count(self, incident_id: str) -> int:
        """How many of the incident's alerts still fire."""
        query = select(func.count()).where(alerts.c.incident_id == incident_id, alerts.c.status == "firing")
        return int(self.conn.execute(query).scalar_one())

    # silences -------------------------------------------------------------------------------------------

    def add_silence(
        self,
        matchers: Mapping[str, str],
        starts_at: datetime,
        ends_at: datetime,
        comment: str,
        actor: str,
        at: datetime,
    ) -> int:
        """Store a silence; its id."""
        result = self.conn.execute(
            insert(silences).values(
                matchers=json.dumps(dict(matchers)),
                starts_at=starts_at,
                ends_at=ends_at,
                comment=comment,
                actor=actor,
                created_at=at,
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def list_silences(self, *, active_at: datetime | None = None) -> list[SilenceRow]:
        """Stored silences (only those in force at `active_at`, if given), newest first."""
        query = select(silences).order_by(silences.c.id.desc())
        params: dict[str, Any] = {}
        if active_at is not None:
            query, params = _ACTIVE_SILENCES, {"at": active_at}
        return [silence_row(r) for r in self.conn.execute(query, params)]

    def expire_silence(self, silence_id: int, at: datetime) -> bool:
        """End a stored silence now; False if there is no such silence in force."""
        result = self.conn.execute(
            update(silences).where(silences.c.id == silence_id, silences.c.ends_at > at).values(ends_at=at)
        )
        return result.rowcount == 1

    # timeline ---------------------------------------------------------------------------------------------

    def add_events(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append timeline entries (incident_id, at, stage, outcome, reason[, actor, fingerprint])."""
        if rows:
            self.conn.execute(_INSERT_EVENTS, [{"actor": None, "fingerprint": None, **r} for r in rows])

    def timeline(self, incident_id: str) -> list[EventRow]:
        """One incident's timeline, oldest first."""
        query = select(incident_events).where(incident_events.c.incident_id == incident_id)
        return [event_row(r) for r in self.conn.execute(query.order_by(incident_events.c.id))]

    # escalation timers ------------------------------------------------------------------------------------

    def add_steps(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Plan escalation steps (incident_id, ordinal, step, round, due_at), all pending."""
        if rows:
            self.conn.execute(_INSERT_STEPS, [{**r, "state": "pending"} for r in rows])

    def due_steps(self, now: datetime, limit: int = 100) -> list[StepRow]:
        """Pending steps due at or before `now`, earliest first."""
        query = (
            select(escalation_steps)
            .where(escalation_steps.c.state == "pending", escalation_steps.c.due_at <= now)
            .order_by(escalation_steps.c.due_at, escalation_steps.c.id)
            .limit(limit)
        )
        return [step_row(r) for r in self.conn.execute(query)]

    def next_due(self) -> datetime | None:
        """When the earliest pending step is due."""
        value = self.conn.execute(
            select(func.min(escalation_steps.c.due_at)).where(escalation_steps.c.state == "pending")
        ).scalar_one()
        return utc(value) if value is not None else None

    def fire_step(self, step_id: int, at: datetime) -> bool:
        """Mark a step fired; False if it was not pending any more (fired or cancelled elsewhere)."""
        result = self.conn.execute(
            update(escalation_steps)
            .where(escalation_steps.c.id == step_id, escalation_steps.c.state == "pending")
            .values(state="fired", fired_at=at)
        )
        return result.rowcount == 1

    def cancel_steps(self, incident_id: str) -> int:
        """Cancel every pending step of an incident; how many were cancelled."""
        result = self.conn.execute(
            update(escalation_steps)
            .where(escalation_steps.c.incident_id == incident_id, escalation_steps.c.state == "pending")
            .values(state="cancelled")
        )
        return int(result.rowcount)

    def shift_pending_steps(self, incident_id: str, by: timedelta) -> int:
        """Move every pending step of an incident later by `by`; how many moved."""
        pending = [s for s in self.steps_of(incident_id) if s.state == "pending"]
        for s in pending:
            self.conn.execute(
                update(escalation_steps).where(escalation_steps.c.id == s.id).values(due_at=s.due_at + by)
            )
        return len(pending)

    def steps_of(self, incident_id: str) -> list[StepRow]:
        """An incident's planned steps in order."""
        query = select(escalation_steps).where(escalation_steps.c.incident_id == incident_id)
        return [step_row(r) for r in self.conn.execute(query.order_by(escalation_steps.c.ordinal))]

    # outbox -----------------------------------------------------------------------------------------------

    def enqueue(self, rows: Sequence[Mapping[str, Any]], at: datetime) -> int:
        """Queue notifications (key, notifier, incident_id, payload); keys already queued are skipped."""
        keys = [r["key"] for r in rows]
        seen: set[str] = set()
        for part in _chunks(keys):
            seen.update(self.conn.execute(select(outbox.c.key).where(outbox.c.key.in_(part))).scalars())
        fresh = []
        for r in rows:
            if r["key"] in seen:
                continue
            seen.add(r["key"])
            fresh.append(
                {
                    **r,
                    "payload": json.dumps(r["payload"]),
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": at,
                    "created_at": at,
                }
            )
        if fresh:
            self.conn.execute(insert(outbox), fresh)
        return len(fresh)

    def outbox_queue(self, notifier: str, limit: int) -> list[OutboxRow]:
        """The oldest `limit` pending notifications of one notifier, in order."""
        query = (
            select(outbox)
            .where(outbox.c.state == "pending", outbox.c.notifier == notifier)
            .order_by(outbox.c.id)
            .limit(limit)
        )
        return [outbox_row(r) for r in self.conn.execute(query)]

    def outbox_update(self, row_id: int, **values: Any) -> None:
        """Record a delivery attempt's outcome."""
        self.conn.execute(update(outbox).where(outbox.c.id == row_id).values(**values))

    def list_outbox(self, *, incident_id: str | None = None, limit: int = 500) -> list[OutboxRow]:
        """Notifications, oldest first (optionally of one incident)."""
        query = select(outbox).order_by(outbox.c.id).limit(limit)
        if incident_id is not None:
            query = query.where(outbox.c.incident_id == incident_id)
        return [outbox_row(r) for r in self.conn.execute(query)]

    def open_incident_counts(self) -> dict[tuple[str, str], int]:
        """Open incidents counted by (state, severity)."""
        query = (
            select(incidents.c.state, incidents.c.severity, func.count())
            .where(incidents.c.state.in_(OPEN_STATES))
            .group_by(incidents.c.state, incidents.c.severity)
        )
        return {(r[0], r[1]): int(r[2]) for r in self.conn.execute(query)}

    def pending_step_count(self) -> int:
        """Escalation steps still to fire."""
        query = select(func.count()).where(escalation_steps.c.state == "pending")
        return int(self.conn.execute(query).scalar_one())

    def outbox_pending_count(self) -> int:
        """Notifications not yet delivered (nor given up on)."""
        return int(self.conn.execute(select(func.count()).where(outbox.c.state == "pending")).scalar_one())


@dataclass(frozen=True)
class RecentDeploy:
    """The deploy that preceded an incident (the deploy pillar's record, as the alert pillar sees it)."""

    id: str
    environment: str
    service: str
    version: str
    kind: str
    status: str
    started_at: datetime


def _recent_deploys_query() -> Any:
    from tiation.state.schema import deployments

    return (
        select(deployments)
        .where(
            deployments.c.service.in_(bindparam("services", expanding=True)),
            deployments.c.started_at <= bindparam("before"),
            deployments.c.started_at > bindparam("since"),
        )
        .order_by(deployments.c.started_at.desc())
    )


_RECENT_DEPLOYS = _recent_deploys_query()
recent_deploy_row = RowMapper(RecentDeploy)


def recent_deployments(
    tx: AlertTx, services: Sequence[str], before: datetime, since: datetime
) -> dict[tuple[str, str | None], RecentDeploy]:
    """The newest deploy per service, and per (service, environment), started in (since, before]."""
    found: dict[tuple[str, str | None], RecentDeploy] = {}
    for part in _chunks(sorted(set(services))):
        for r in tx.conn.execute(_RECENT_DEPLOYS, {"services": list(part), "before": before, "since": since}):
            deploy = recent_deploy_row(r)
            found.setdefault((r.service, None), deploy)
            found.setdefault((r.service, r.environment), deploy)
    return found
