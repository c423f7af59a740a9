"""Turning incidents and step targets into outbox rows (what to send, to whom, under which idempotency key)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tiation.alerting.notifiers.base import Notification, Recipient
from tiation.alerting.pipeline import Decision
from tiation.config.alerting import Target
from tiation.config.models import Platform
from tiation.state.alert_rows import IncidentRow, OutboxRow
from tiation.state.alerts import RecentDeploy

WhoIsOnCall = Callable[[str, datetime], list[str]]
"""(schedule name, instant) -> the names of the people on call (as keys of `people:`)."""


@dataclass(frozen=True)
class Delivery:
    """One notifier call to make: which notifier, for whom (None: the channel itself)."""

    notifier: str
    person: str | None

    @property
    def slug(self) -> str:
        """The part of an idempotency key that names the delivery."""
        return f"{self.notifier}:{self.person or '-'}"


def deliveries(targets: Sequence[Target], at: datetime, who: WhoIsOnCall) -> tuple[list[Delivery], list[str]]:
    """The deliveries a step's targets mean at `at`, and notes for the timeline (e.g. nobody on call)."""
    out: list[Delivery] = []
    notes: list[str] = []
    for target in targets:
        if target.channel is not None:
            out.append(Delivery(target.channel, None))
            continue
        if target.schedule is not None:
            people = who(target.schedule, at)
            if not people:
                notes.append(f"nobody is on call in {target.schedule} at {at.isoformat()}")
            notes.extend(f"{target.schedule}: {p} is on call" for p in people)
        else:
            assert target.person is not None
            people = [target.person]
        out.extend(Delivery(via, person) for person in people for via in target.via)
    unique = list(dict.fromkeys(out))  # the same person through the same notifier once per step
    return unique, notes


def title_of(severity: str, labels: Mapping[str, str]) -> str:
    """`[critical] HighErrorRate cms` — severity, alert name and service."""
    parts = [labels.get("alertname", "alert"), labels.get("service", "")]
    return f"[{severity}] " + " ".join(p for p in parts if p)


def payload(
    platform: Platform,
    incident: IncidentRow,
    *,
    key: str,
    event: str,
    summary: str,
    annotations: Mapping[str, str],
    person: str | None,
    at: datetime,
) -> dict[str, Any]:
    """The stored form of a `Notification` (JSON-ready)."""
    recipient = None
    if person is not None and person in platform.people:
        p = platform.people[person]
        recipient = {"name": p.name, "email": p.email, "chat": p.chat, "phone": p.phone}
    return {
        "key": key,
        "incident_id": incident.id,
        "event": event,
        "title": incident.title,
        "summary": summary,
        "severity": incident.severity,
        "labels": dict(incident.labels),
        "annotations": dict(annotations),
        "recipient": recipient,
        "created_at": at.isoformat(),
        "url": f"{platform.server.base_url}/incidents/{incident.id}",
    }


def notification_of(data: Mapping[str, Any]) -> Notification:
    """A stored payload back as the `Notification` a notifier sends."""
    r = data.get("recipient")
    return Notification(
        key=data["key"],
        incident_id=data["incident_id"],
        event=data["event"],
        title=data["title"],
        summary=data["summary"],
        severity=data["severity"],
        labels=dict(data["labels"]),
        annotations=dict(data["annotations"]),
        recipient=Recipient(r["name"], r.get("email"), r.get("chat"), r.get("phone")) if r else None,
        created_at=datetime.fromisoformat(data["created_at"]),
        url=data.get("url"),
    )


def follow_ups(sent: Sequence[OutboxRow], incident_id: str, kind: str, at: datetime) -> list[dict[str, Any]]:
    """Outbox rows telling every (notifier, person) paged for an incident that it is acknowledged/resolved."""
    first_page = {
        (r.notifier, (r.payload.get("recipient") or {}).get("name")): r
        for r in sent
        if r.payload.get("event") in ("trigger", "escalate", "repeat")
    }
    rows = []
    for (notifier, _name), first in first_page.items():
        person_key = first.key.rsplit(":", 1)[-1]
        data = dict(first.payload, event=kind, created_at=at.isoformat())
        data["key"] = f"{incident_id}:{kind}:{notifier}:{person_key}"
        rows.append({"key": data["key"], "notifier": notifier, "incident_id": incident_id, "payload": data})
    return rows


def deploy_context(deploy: RecentDeploy, now: datetime) -> Decision:
    """The timeline entry naming the deploy that preceded an incident."""
    ago = (now - deploy.started_at).total_seconds()
    return Decision(
        "context",
        "deploy",
        f"preceded by {deploy.kind} {deploy.id}: {deploy.service} {deploy.version} to "
        f"{deploy.environment} ({deploy.status}), {_ago(ago)} earlier",
    )


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
