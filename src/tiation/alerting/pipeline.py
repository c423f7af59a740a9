"""The alert pipeline's decisions as pure functions: each returns what to do and a named reason.

The decisions (`dedup`, `grouping`, `severity_of`, `silencing`, `route`, `escalation_plan`) are composed
as data, like Alertmanager's `MultiStage`: `PIPELINE` is a list of stages, each a function
`(Facts, Verdict) -> Verdict` that asks one decision and records it, and `run` passes the verdict along
until a stage halts it (a duplicate, an alert joining an open incident). A new stage (inhibition, maintenance
windows) is one function plus one line in `OPENING` or `PIPELINE`. Nothing here reads a clock, a database or
the network; `tiation.alerting.service` feeds the facts in and records every decision's reason on the
incident's timeline, and `explain` prints them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal, TypeAlias

from tiation.alerting.model import AlertEvent
from tiation.alerting.silences import active_silence, silence_end
from tiation.config.alerting import Alerting, Policy, Severity, Silence, Target

DedupOutcome = Literal["new", "duplicate", "refire", "resolve", "stale-resolve", "acknowledge"]


@dataclass(frozen=True)
class Decision:
    """One stage's verdict: `outcome` is machine-readable, `reason` is the sentence a person reads."""

    stage: str
    outcome: str
    reason: str


@dataclass(frozen=True)
class KnownAlert:
    """What the store knows of an alert with the same fingerprint."""

    status: str  # firing | resolved
    incident_id: str | None
    incident_open: bool


def dedup(known: KnownAlert | None, event: AlertEvent) -> Decision:
    """Is this event news? Re-sends of a firing alert (Prometheus repeats every minute) never are."""
    if event.status == "acknowledged":
        if known is None or not known.incident_open:
            return Decision("dedup", "duplicate", "acknowledge for an alert with no open incident: ignored")
        return Decision("dedup", "acknowledge", "the source acknowledged the alert")
    if event.status == "resolved":
        if known is None or known.status == "resolved":
            return Decision("dedup", "stale-resolve", "resolved, and no firing alert with these labels")
        return Decision("dedup", "resolve", "the source reports the alert resolved")
    if known is None:
        return Decision("dedup", "new", "first time these labels fire")
    if known.status == "resolved" or not known.incident_open:
        return Decision("dedup", "refire", "fires again after it was resolved: a new occurrence")
    return Decision("dedup", "duplicate", "already firing with identical labels: not news (no page)")


def group_key(labels: Mapping[str, str], group_by: Sequence[str]) -> str:
    """The incident key: the values of the `group_by` labels (missing labels count as empty)."""
    return "|".join(f"{name}={labels.get(name, '')}" for name in group_by)


def grouping(open_incident: str | None, key: str) -> Decision:
    """Join the open incident with the same group key, or open a new one."""
    if open_incident is not None:
        return Decision("group", "join", f"joins open incident {open_incident} (group {key})")
    return Decision("group", "open", f"opens a new incident (group {key})")


def severity_of(labels: Mapping[str, str], cfg: Alerting) -> tuple[str, Severity, Decision]:
    """The alert's severity name and settings; unknown or missing labels fall back to `default_severity`."""
    wanted = labels.get("severity", "")
    if wanted in cfg.severities:
        return wanted, cfg.severities[wanted], Decision("severity", wanted, f"severity label {wanted!r}")
    fallback = cfg.default_severity
    settings = cfg.severities.get(fallback, Severity())
    why = f"no severity {wanted!r} configured" if wanted else "no severity label"
    return fallback, settings, Decision("severity", fallback, f"{why}: using default {fallback!r}")


@lru_cache(maxsize=1024)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def matches(matchers: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """All matchers full-match their label's value (a missing label is the empty string)."""
    return all(_pattern(p).fullmatch(labels.get(name, "")) is not None for name, p in matchers.items())


def route(labels: Mapping[str, str], cfg: Alerting) -> tuple[str | None, Decision]:
    """The policy for these labels: the first matching route, else the default policy (or none)."""
    for index, candidate in enumerate(cfg.routes):
        if matches(candidate.match, labels):
            shown = ", ".join(f"{k}=~{v!r}" for k, v in candidate.match.items())
            return candidate.policy, Decision(
                "route", candidate.policy, f"route {index + 1} ({shown}) -> policy {candidate.policy!r}"
            )
    if cfg.default_policy is not None:
        return cfg.default_policy, Decision(
            "route", cfg.default_policy, f"no route matched -> default policy {cfg.default_policy!r}"
        )
    return None, Decision("route", "none", "no route matched and no default policy: severity channels only")


def silencing(
    labels: Mapping[str, str], cfg: Alerting, at: datetime, stored: Sequence[tuple[int, Silence]] = ()
) -> tuple[Decision, datetime] | None:
    """(decision, until) when a silence (from the file, or stored with its id) covers `labels` at `at`.

    Silencing postpones: whatever still fires when the silence ends is escalated then.
    """
    found = active_silence(cfg.silences, labels, at, matches)
    if found is not None:
        index, silence = found
        name = f"silence {index + 1} of the platform file"
    else:
        hit = active_silence([s for _, s in stored], labels, at, matches)
        if hit is None:
            return None
        silence = hit[1]
        name = f"silence #{stored[hit[0]][0]}"
    what = silence.comment or ", ".join(f"{k}=~{v!r}" for k, v in silence.match.items())
    until = silence_end(silence, at)
    reason = f"{name} ({what}) is active until {until.isoformat()}: escalation waits for its end"
    return Decision("silence", "silenced", reason), until


@dataclass(frozen=True)
class PlannedStep:
    """One escalation step with its due time: `ordinal` counts steps across repeats from 0."""

    ordinal: int
    step: int
    repeat: int
    due_at: datetime
    targets: tuple[Target, ...]


CHANNELS_STEP = -1
"""The step index of "tell the severity's channels" (planned first, due when the incident opens)."""


def escalation_plan(
    policy: Policy | None, severity: Severity, start: datetime
) -> tuple[list[PlannedStep], Decision]:
    """Every step the incident will go through unless acknowledged, with due times from `start`.

    The severity's channels come first (step index -1), then the policy's steps. Due times follow the plan,
    not the moment a step actually fired, so a late step never delays the next. Step waits default to the
    severity's escalation delay; a delay of 0 means the severity never pages (channels only).
    """
    steps: list[PlannedStep] = []
    if severity.channels:
        targets = tuple(Target(channel=c) for c in severity.channels)
        steps.append(PlannedStep(0, CHANNELS_STEP, 0, start, targets))
    if policy is None or severity.escalation_delay <= timedelta(0):
        why = "no policy" if policy is None else "severity has no escalation delay"
        told = f"tell {', '.join(severity.channels)}" if severity.channels else "tell nobody"
        return steps, Decision("escalate", "none", f"{why}: {told}, page nobody")
    due = start
    for repeat in range(policy.repeat + 1):
        for index, step in enumerate(policy.steps):
            steps.append(PlannedStep(len(steps), index, repeat, due, tuple(step.notify)))
            due += step.wait if step.wait is not None else severity.escalation_delay
    pages = len(policy.steps) * (policy.repeat + 1)
    span = steps[-1].due_at - start
    return steps, Decision(
        "escalate",
        "planned",
        f"{len(policy.steps)} step(s) x {policy.repeat + 1} round(s) = {pages} page(s) over {span}",
    )


def step_label(step: int, round_: int) -> str:
    """`channels` or `step 2 round 1`."""
    return "channels" if step == CHANNELS_STEP else f"step {step + 1} round {round_ + 1}"


def target_label(target: Target) -> str:
    """How a step target reads in timelines and `explain`."""
    if target.channel is not None:
        return f"channel {target.channel}"
    via = ", ".join(target.via)
    if target.schedule is not None:
        return f"on-call of {target.schedule} via {via}"
    return f"{target.person} via {via}"


# the stages, composed as data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What the stages decide from: the alert's labels, the configuration, the moment, stored silences.

    `event`, `known` and `open_incident` are for the intake stages (dedup, group); `explain` leaves them out
    and runs only `OPENING`.
    """

    labels: Mapping[str, str]
    cfg: Alerting
    at: datetime
    silences: Sequence[tuple[int, Silence]] = ()
    """Silences added through the CLI or API, with their ids (the platform file's come with `cfg`)."""
    event: AlertEvent | None = None
    known: KnownAlert | None = None
    open_incident: str | None = None
    """The open incident with this alert's group key, if any."""
    key: str = ""
    """The group key (`group_key(labels, cfg.group_by)`)."""


@dataclass(frozen=True)
class Verdict:
    """What the stages decided so far; `decisions` are the timeline entries, in stage order."""

    decisions: tuple[Decision, ...] = ()
    halted: bool = False
    """A stage decided that nothing further applies (a duplicate, or the alert joined an open incident)."""
    severity_name: str = ""
    severity: Severity = field(default_factory=Severity)
    silenced: tuple[Decision, datetime] | None = None
    """The silence decision and when the silence ends (escalation starts then)."""
    policy_name: str | None = None
    policy: Policy | None = None
    plan: tuple[PlannedStep, ...] = ()

    def record(self, decision: Decision | None, **changes: object) -> Verdict:
        """This verdict with `decision` appended to the timeline (when there is one) and `changes` applied."""
        decisions = self.decisions if decision is None else (*self.decisions, decision)
        return replace(self, decisions=decisions, **changes)  # type: ignore[arg-type]


Stage: TypeAlias = Callable[[Facts, Verdict], Verdict]
"""One step of the pipeline: ask one decision, record it (and what it settles) on the verdict."""


def dedup_stage(facts: Facts, verdict: Verdict) -> Verdict:
    """Is this event news? Halts for anything but a new or re-firing alert."""
    assert facts.event is not None
    decision = dedup(facts.known, facts.event)
    return verdict.record(decision, halted=decision.outcome not in ("new", "refire"))


def group_stage(facts: Facts, verdict: Verdict) -> Verdict:
    """Join the open incident with the same group key (and halt), or go on to open one."""
    decision = grouping(facts.open_incident, facts.key)
    return verdict.record(decision, halted=decision.outcome == "join")


def severity_stage(facts: Facts, verdict: Verdict) -> Verdict:
    """The severity from the `severity` label, or the default."""
    name, settings, decision = severity_of(facts.labels, facts.cfg)
    return verdict.record(decision, severity_name=name, severity=settings)


def silence_stage(facts: Facts, verdict: Verdict) -> Verdict:
    """Whether a silence postpones escalation (no timeline entry when none applies)."""
    silenced = silencing(facts.labels, facts.cfg, facts.at, facts.silences)
    return verdict.record(silenced[0] if silenced else None, silenced=silenced)


def route_stage(facts: Facts, verdict: Verdict) -> Verdict:
    """The escalation policy: first matching route, else the default policy."""
    name, decision = route(facts.labels, facts.cfg)
    policy = facts.cfg.policies.get(name) if name else None
    return verdict.record(decision, policy_name=name, policy=policy)


def plan_stage(facts: Facts, verdict: Verdict) -> Verdict:
    """Every escalation step with its due time, from the end of a silence or from now."""
    start = verdict.silenced[1] if verdict.silenced else facts.at
    plan, decision = escalation_plan(verdict.policy, verdict.severity, start)
    return verdict.record(decision, plan=tuple(plan))


OPENING: tuple[Stage, ...] = (severity_stage, silence_stage, route_stage, plan_stage)
"""The stages that decide how a new incident escalates (what `tiation alerts explain` runs)."""

PIPELINE: tuple[Stage, ...] = (dedup_stage, group_stage, *OPENING)
"""Every stage an incoming alert event goes through, in order."""


def run(stages: Sequence[Stage], facts: Facts) -> Verdict:
    """Pass a verdict through `stages` in order, stopping at the first that halts it."""
    verdict = Verdict()
    for stage in stages:
        verdict = stage(facts, verdict)
        if verdict.halted:
            break
    return verdict
