"""Run a candidate's probes and watch its events until the verdict is no longer pending."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tiation.clock import Clock
from tiation.config.models import Health, Probe
from tiation.deploy.health import ProbeResult
from tiation.deploy.verdict import FATAL_EVENTS, Failed, Healthy, Pending, Policy, ProbeRule, Verdict, decide
from tiation.targets.base import Endpoint, Rollout, Target, TargetEvent

Prober = Callable[[Probe, Endpoint, str], ProbeResult]
"""Runs one probe against an endpoint for a version."""

_KEEP_RESULTS = 6


def policy_for(health: Health) -> Policy:
    """The verdict policy that a service's health settings describe."""
    return Policy(
        probes=tuple(ProbeRule(p.label, p.success_threshold, p.failure_threshold) for p in health.probes),
        deadline=health.deadline.total_seconds(),
        stable_for=health.stable_for.total_seconds(),
    )


@dataclass
class Observation:
    """Everything seen while verifying one candidate: the verdict's inputs and its evidence."""

    events: list[TargetEvent] = field(default_factory=list)
    results: dict[str, list[ProbeResult]] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)
    elapsed: float = 0.0  # from the candidate's start (apply returned) to the verdict
    apply_s: float = 0.0  # how long the target took to start the candidate

    def evidence(self) -> dict[str, Any]:
        """A JSON-safe summary: events, the last probe results of each probe, elapsed time."""
        return {
            "apply_s": round(self.apply_s, 3),
            "elapsed_s": round(self.elapsed, 3),
            "events": [e.to_dict() for e in self.events],
            "probes": {name: [r.to_dict() for r in rs[-_KEEP_RESULTS:]] for name, rs in self.results.items()},
        }


def verify(
    target: Target,
    rollout: Rollout,
    health: Health,
    *,
    clock: Clock,
    prober: Prober,
    poll_interval: float = 0.1,
    on_tick: Callable[[Verdict, Observation], None] | None = None,
) -> tuple[Healthy | Failed, Observation]:
    """Probe `rollout`'s candidate on each probe's schedule and poll its events until a verdict.

    Events are polled every `poll_interval` so that a process exiting at start fails within a fraction of a
    second; probes run on their own interval after their initial delay.
    """
    policy = policy_for(health)
    start = clock.monotonic()
    due = {p.label: p.initial_delay.total_seconds() for p in health.probes}
    seen = Observation(
        results={p.label: [] for p in health.probes}, times={p.label: [] for p in health.probes}
    )
    verdict: Verdict = Pending("starting")
    while True:
        seen.events.extend(target.events(rollout))
        elapsed = clock.monotonic() - start
        if not any(e for e in seen.events if _fatal(e)):
            for probe in health.probes:
                if elapsed >= due[probe.label]:
                    result = prober(probe, rollout.endpoint, rollout.release.version)
                    seen.results[probe.label].append(result)
                    seen.times[probe.label].append(clock.monotonic() - start)
                    due[probe.label] = elapsed + probe.interval.total_seconds()
                    seen.events.extend(target.events(rollout))
        seen.elapsed = clock.monotonic() - start
        verdict = decide(
            policy, elapsed=seen.elapsed, events=seen.events, results=seen.results, result_times=seen.times
        )
        if on_tick is not None:
            on_tick(verdict, seen)
        if not isinstance(verdict, Pending):
            return verdict, seen
        next_probe = min(due.values()) - (clock.monotonic() - start)
        clock.sleep(min(poll_interval, max(next_probe, 0.01)))


def _fatal(event: TargetEvent) -> bool:
    return event.kind in FATAL_EVENTS


def failure_evidence(verdict: Failed, seen: Observation, log_tail: list[str]) -> dict[str, Any]:
    """Evidence of a failed verdict, with the candidate's last log lines."""
    evidence = seen.evidence()
    evidence.update(dict(verdict.evidence))
    evidence["code"] = verdict.code
    evidence["log_tail"] = log_tail
    return evidence
