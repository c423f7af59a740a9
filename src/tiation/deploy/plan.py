"""Decide, then do: the deploy plan as data.

`plan_deploy` is pure: it takes the desired releases and the facts read beforehand (what is serving, which
releases are quarantined, which approvals exist) and returns the steps to take, each with the reasons it will
or will not run. `--dry-run` prints exactly this; the executor carries it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tiation.targets.base import Observed, Release


@dataclass(frozen=True)
class ApprovalFact:
    """An approval found in the state store for this environment/service."""

    actor: str
    digest: str
    expires_at: datetime


@dataclass(frozen=True)
class ServiceFacts:
    """What was read about one service before planning."""

    observed: Observed
    quarantined: str | None = None  # the reason, when the desired release failed before
    approvals: Sequence[ApprovalFact] = ()
    dependencies_unhealthy: Mapping[str, str] = field(default_factory=dict)  # dependency -> why
    unresolved_secrets: Sequence[str] = ()  # one line each: which reference, and why it cannot be read
    target_problems: Sequence[str] = ()  # the target's own prechecks (Secrets, capacity …)


@dataclass(frozen=True)
class Step:
    """One service's part of a plan."""

    service: str
    action: str  # "deploy" | "noop" | "blocked"
    release: Release
    from_version: str | None
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "action": self.action,
            "from_version": self.from_version,
            "to_version": self.release.version,
            "digest": self.release.digest,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class Plan:
    """The ordered steps of a deploy."""

    environment: str
    steps: tuple[Step, ...]

    @property
    def blocked(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.action == "blocked")

    @property
    def changes(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.action == "deploy")

    def to_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "steps": [s.to_dict() for s in self.steps]}


@dataclass(frozen=True)
class PlanOptions:
    """What the caller asked for."""

    actor: str
    now: datetime
    force: bool = False
    approval_required: bool = False


def _approval_blocker(release: Release, approvals: Sequence[ApprovalFact], opts: PlanOptions) -> str | None:
    if not opts.approval_required:
        return None
    for_digest = [a for a in approvals if a.digest == release.digest]
    valid = [a for a in for_digest if a.expires_at > opts.now and a.actor != opts.actor]
    if valid:
        return None
    if any(a.expires_at > opts.now and a.actor == opts.actor for a in for_digest):
        return (
            f"approval for {release.service} {release.version} was given by {opts.actor}, the deployer: "
            "it must come from someone else"
        )
    if for_digest:
        return f"approval for {release.service} {release.version} expired; approve again"
    if approvals:
        other = approvals[-1].digest[:19]
        return (
            f"approval on record is for release {other}…, not {release.digest[:19]}… "
            "(version or config changed); approve this release"
        )
    return (
        f"{release.environment} requires an approval: "
        f"tiation approve {release.environment} {release.service} {release.version}"
    )


def plan_deploy(
    environment: str,
    releases: Sequence[Release],
    facts: Mapping[str, ServiceFacts],
    opts: PlanOptions,
) -> Plan:
    """Plan the deploy of `releases` (already in dependency order) given the `facts` read for each."""
    steps: list[Step] = []
    planned: set[str] = set()
    for release in releases:
        fact = facts[release.service]
        serving = fact.observed.serving
        current = serving.version if serving else None
        blockers: list[str] = []
        if fact.quarantined and not opts.force:
            blockers.append(
                f"release {release.version} is quarantined ({fact.quarantined}); use --force to deploy it again"
            )
        blockers.extend(fact.unresolved_secrets)
        blockers.extend(fact.target_problems)
        approval = _approval_blocker(release, fact.approvals, opts)
        if approval:
            blockers.append(approval)
        for dep, why in sorted(fact.dependencies_unhealthy.items()):
            if dep not in planned:
                blockers.append(f"dependency {dep} is not healthy: {why}")
        if blockers:
            steps.append(Step(release.service, "blocked", release, current, tuple(blockers)))
            continue
        planned.add(release.service)
        same = serving is not None and serving.digest == release.digest and serving.state == "running"
        if same and fact.observed.proxy_down:
            why = f"{current} -> {release.version} (repair: its proxy is down)"
            steps.append(Step(release.service, "deploy", release, current, (why,)))
        elif same and not opts.force:
            steps.append(
                Step(release.service, "noop", release, current, (f"{release.version} already serving",))
            )
        else:
            why = f"{current or 'nothing'} -> {release.version}"
            if same:
                why += " (forced redeploy)"
            steps.append(Step(release.service, "deploy", release, current, (why,)))
    return Plan(environment, tuple(steps))
