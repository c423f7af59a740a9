"""`tiation alerts …`: list, show, ack, resolve, silence, explain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from tiation.cli.context import AppContext
from tiation.cli.output import Output
from tiation.errors import UsageError

if TYPE_CHECKING:
    from tiation.alerting.service import AlertService
    from tiation.alerting.silence_service import SilenceService
    from tiation.state.alert_rows import AlertRow, EventRow, IncidentRow, OutboxRow, StepRow


def _service(app: AppContext) -> AlertService:
    from tiation.alerting.service import AlertService

    return AlertService(app.loaded().platform, app.store(), app.clock)


def _silences(app: AppContext) -> SilenceService:
    from tiation.alerting.silence_service import SilenceService

    return SilenceService(app.store(), app.clock)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _labels(pairs: tuple[str, ...], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"{what}: expected NAME=VALUE, got {pair!r}")
        out[name] = value
    return out


def _time(app: AppContext, text: str | None, what: str) -> datetime:
    from tiation.oncall.times import parse_time

    now = app.clock.now()
    return now if text is None else parse_time(text, ZoneInfo("UTC"), now, what=what)


@click.group()
def alerts() -> None:
    """Incidents from alerts: list, show, acknowledge, resolve, silence, explain."""


@alerts.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include resolved incidents.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "json_mode", is_flag=True)
@click.pass_obj
def list_(app: AppContext, show_all: bool, limit: int, json_mode: bool) -> None:
    """Open incidents (newest first)."""
    out = Output(json_mode=json_mode)
    states = () if show_all else ("triggered", "acknowledged")
    with app.store().read("list incidents") as uow:
        rows = uow.alerts.list_incidents(states=states, limit=limit)
    out.data([i.to_dict() for i in rows])
    if not rows:
        out.line("no open incidents" if not show_all else "no incidents")
        return
    out.table(
        ["id", "state", "severity", "title", "opened (UTC)", "by"],
        [
            [i.id, i.state, i.severity, i.title, _when(i.opened_at), i.acknowledged_by or i.resolved_by or ""]
            for i in rows
        ],
    )


@alerts.command("show")
@click.argument("incident_id")
@click.option("--json", "json_mode", is_flag=True)
@click.pass_obj
def show(app: AppContext, incident_id: str, json_mode: bool) -> None:
    """One incident: its alerts, timeline, escalation steps and notifications."""
    out = Output(json_mode=json_mode)
    with app.store().read("show an incident") as uow:
        incident = uow.alerts.get_incident(incident_id)
        if incident is None:
            raise UsageError(f"no incident {incident_id!r} (see: tiation alerts list --all)")
        view = _IncidentView(
            incident,
            uow.alerts.alerts_of(incident.id),
            uow.alerts.timeline(incident.id),
            uow.alerts.steps_of(incident.id),
            uow.alerts.list_outbox(incident_id=incident.id),
        )
    out.data(view.document())
    view.print(out)


@dataclass(frozen=True)
class _IncidentView:
    """What `alerts show` prints of one incident, as JSON or as tables."""

    incident: IncidentRow
    alerts: list[AlertRow]
    timeline: list[EventRow]
    steps: list[StepRow]
    sent: list[OutboxRow]

    def document(self) -> dict[str, Any]:
        """The `--json` form."""
        from tiation.alerting.pipeline import step_label

        return {
            **self.incident.to_dict(),
            "alerts": [
                {
                    "fingerprint": a.fingerprint,
                    "status": a.status,
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "received": a.received,
                }
                for a in self.alerts
            ],
            "timeline": [
                {"at": e.at, "stage": e.stage, "outcome": e.outcome, "reason": e.reason, "actor": e.actor}
                for e in self.timeline
            ],
            "steps": [
                {
                    "ordinal": s.ordinal,
                    "step": s.step + 1,
                    "label": step_label(s.step, s.round),
                    "round": s.round + 1,
                    "due_at": s.due_at,
                    "state": s.state,
                    "fired_at": s.fired_at,
                }
                for s in self.steps
            ],
            "notifications": [
                {
                    "notifier": o.notifier,
                    "event": o.payload.get("event"),
                    "state": o.state,
                    "attempts": o.attempts,
                    "last_error": o.last_error,
                    "to": (o.payload.get("recipient") or {}).get("name"),
                }
                for o in self.sent
            ],
        }

    def print(self, out: Output) -> None:
        """The human form: a header, then tables of alerts, timeline, escalation and notifications."""
        from tiation.alerting.pipeline import step_label

        incident = self.incident
        out.line(f"{incident.id}  {incident.title}  ({incident.state})")
        out.line(f"opened {_when(incident.opened_at)} UTC; policy {incident.policy or '-'}")
        if incident.deployment_id:
            out.line(f"preceded by deploy {incident.deployment_id} (tiation why {incident.deployment_id})")
        out.table(
            ["fingerprint", "status", "received", "labels"],
            [
                [
                    a.fingerprint,
                    a.status,
                    a.received,
                    ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items())),
                ]
                for a in self.alerts
            ],
            title="alerts",
        )
        out.table(
            ["at (UTC)", "stage", "outcome", "reason"],
            [[_when(e.at), e.stage, e.outcome, e.reason] for e in self.timeline],
            title="timeline",
        )
        if self.steps:
            out.table(
                ["step", "due (UTC)", "state"],
                [[step_label(s.step, s.round), _when(s.due_at), s.state] for s in self.steps],
                title="escalation",
            )
        if self.sent:
            out.table(
                ["notifier", "to", "event", "state", "attempts", "last error"],
                [
                    [
                        o.notifier,
                        (o.payload.get("recipient") or {}).get("name") or "(channel)",
                        o.payload.get("event"),
                        o.state,
                        o.attempts,
                        o.last_error or "",
                    ]
                    for o in self.sent
                ],
                title="notifications",
            )


@alerts.command("ack")
@click.argument("incident_id")
@click.option("--json", "json_mode", is_flag=True)
@click.pass_obj
def ack(app: AppContext, incident_id: str, json_mode: bool) -> None:
    """Acknowledge an incident: escalation stops; the people already paged are told."""
    out = Output(json_mode=json_mode)
    incident = _service(app).acknowledge(incident_id, actor=app.who())
    out.data(incident.to_dict())
    out.line(f"{incident.id} acknowledged by {incident.acknowledged_by}; escalation stopped")


@alerts.command("resolve")
@click.argument("incident_id")
@click.option("--json", "json_mode", is_flag=True)
@click.pass_obj
def resolve(app: AppContext, incident_id: str, json_mode: bool) -> None:
    """Resolve an incident by hand."""
    out = Output(json_mode=json_mode)
    incident = _service(app).resolve(incident_id, actor=app.who())
    out.data(incident.to_dict())
    out.line(f"{incident.id} resolved by {incident.resolved_by}")


@alerts.command("explain")
@click.argument("labels", nargs=-1, required=True)
@click.option(
    "--at", "at_text", metavar="TIME", help="When the alert fires (default: now; e.g. 2026-03-29T02:30Z)."
)
@click.option("--json", "json_mode", is_flag=True)
@click.pass_obj
def explain(app: AppContext, labels: tuple[str, ...], at_text: str | None, json_mode: bool) -> None:
    """What would happen to an alert with LABELS (NAME=VALUE …): route, silences, steps, who is paged."""
    from tiation.alerting.explain import explain as run_explain
    from tiation.alerting.pipeline import step_label
    from tiation.alerting.service import schedule_resolver

    out = Output(json_mode=json_mode)
    at = _time(app, at_text, "--at")
    platform, store = app.loaded().platform, app.store()
    stored = _silences(app).active_at(at)
    result = run_explain(
        platform.alerting, _labels(labels, "labels"), at, schedule_resolver(platform, store), stored
    )
    out.data(result.to_dict())
    out.line(f"fingerprint {result.fingerprint}; group {result.group_key}; at {_when(at)} UTC")
    for d in result.decisions:
        out.line(f"  {d.stage:<9} {d.reason}")
    for s in result.steps:
        paged = ", ".join(s.paged) or "nobody"
        note = f"  ({'; '.join(s.notes)})" if s.notes else ""
        out.line(f"  {step_label(s.step, s.round)} at {_when(s.due_at)} UTC: {paged}{note}")


@alerts.group("silence")
def silence() -> None:
    """Silences added by hand (the platform file's silences are listed by `tiation validate`)."""


@silence.command("add")
@click.argument("matchers", nargs=-1, required=True)
@click.option("--for", "duration", default="2h", show_default=True, help="How long, e.g. 30m, 2h.")
@click.option("--start", "start_text", metavar="TIME", help="When it starts (default: now).")
@click.option("--comment", required=True, help="Why (shown on every incident it silences).")
@click.option("--json", "json_mode", is_flag=True)
@click.pass_obj
def silence_add(
    app: AppContext,
    matchers: tuple[str, ...],
    duration: str,
    start_text: str | None,
    comment: str,
    json_mode: bool,
) -> None:
    """Silence alerts whose labels match MATCHERS (NAME=REGEX …)."""
    from tiation.alerting.silence_service import check_matchers
    from tiation.config.durations import parse_duration

    out = Output(json_mode=json_mode)
    match = check_matchers(_labels(matchers, "matchers"))
    try:
        length = parse_duration(duration)
    except ValueError as exc:
        raise UsageError(f"--for: {exc}") from None
    if length.total_seconds() <= 0:
        raise UsageError("--for: a silence must last longer than 0s")
    start = _time(app, start_text, "--start")
    silence_id = _silences(app).add(match, start, length, comment, actor=app.who())
    out.data({"id": silence_id, "matchers": match, "starts_at": start, "ends_at": start + length})
    out.line(f"silence #{silence_id} until {_when(start + length)} UTC")


@silence.command("list")
@click.option("--json", "json_mode", is_flag=True)
@click.pass_obj
def silence_list(app: AppContext, json_mode: bool) -> None:
    """Silences added by hand, newest first."""
    out = Output(json_mode=json_mode)
    now = app.clock.now()
    rows = _silences(app).rows()
    out.data(
        [
            {
                "id": r.id,
                "matchers": r.matchers,
                "starts_at": r.starts_at,
                "ends_at": r.ends_at,
                "comment": r.comment,
                "actor": r.actor,
                "active": r.starts_at <= now < r.ends_at,
            }
            for r in rows
        ]
    )
    out.table(
        ["id", "matchers", "from (UTC)", "until (UTC)", "active", "by", "comment"],
        [
            [
                r.id,
                ", ".join(f"{k}=~{v}" for k, v in r.matchers.items()),
                _when(r.starts_at),
                _when(r.ends_at),
                "yes" if r.starts_at <= now < r.ends_at else "no",
                r.actor,
                r.comment,
            ]
            for r in rows
        ],
    )


@silence.command("expire")
@click.argument("silence_id", type=int)
@click.pass_obj
def silence_expire(app: AppContext, silence_id: int) -> None:
    """End a silence now."""
    _silences(app).expire(silence_id, actor=app.who())
    Output().line(f"silence #{silence_id} expired")
