"""The verdict: a pure function of what happened to a candidate and what its probes said.

`decide` fails fast on what can never heal (the process exited, a crash loop, a command that cannot start …),
fails a candidate that passed and then went bad, waits for what can still heal (probes failing before the
deadline), and calls it healthy once every probe passes and the candidate stayed up for `stable_for`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tiation.deploy.health import ProbeResult
from tiation.targets.base import EventKind, TargetEvent

FATAL_EVENTS: Mapping[EventKind, str] = {
    EventKind.EXITED: "process exited",
    EventKind.CRASH_LOOP: "crash loop",
    EventKind.IMAGE_PULL_FAILED: "image cannot be pulled",
    EventKind.CONFIG_ERROR: "cannot start",
    EventKind.OOM_KILLED: "killed: out of memory",
    EventKind.UNSCHEDULABLE: "unschedulable",
    EventKind.PROGRESS_DEADLINE: "progress deadline exceeded",
    EventKind.NOT_READY: "readiness probe failing",
}
_REFUSED = ("connection refused", "refused")


@dataclass(frozen=True)
class ProbeRule:
    """How one probe's results are judged."""

    name: str
    success_threshold: int = 1
    failure_threshold: int = 3


@dataclass(frozen=True)
class Policy:
    """What verification demands of a candidate (seconds)."""

    probes: Sequence[ProbeRule]
    deadline: float = 30.0
    stable_for: float = 0.0


@dataclass(frozen=True)
class Healthy:
    """Every probe passes and the candidate stayed up long enough."""

    reason: str
    status: str = "healthy"


@dataclass(frozen=True)
class Failed:
    """The candidate can not be kept. `reason` is one line; `code` names the failure class."""

    reason: str
    code: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    status: str = "failed"


@dataclass(frozen=True)
class Pending:
    """Not decided yet; `waiting_for` says on what."""

    waiting_for: str
    status: str = "pending"


Verdict = Healthy | Failed | Pending


@dataclass(frozen=True)
class _Streak:
    passing_since: float | None  # start of the current passing streak that reached the threshold
    ever_passed: bool
    failures_after_pass: int
    last: ProbeResult | None


def _streak(rule: ProbeRule, results: Sequence[ProbeResult], times: Sequence[float]) -> _Streak:
    ok_run = fail_run = 0
    ever_passed = False
    passing_since: float | None = None
    run_start = 0.0
    fails_after_pass = 0
    for result, t in zip(results, times, strict=True):
        if result.ok:
            if ok_run == 0:
                run_start = t
            ok_run += 1
            fail_run = 0
            if ok_run >= rule.success_threshold:
                if passing_since is None:
                    passing_since = run_start
                ever_passed = True
                fails_after_pass = 0
        else:
            fail_run += 1
            ok_run = 0
            passing_since = None
            if ever_passed:
                fails_after_pass = fail_run
    return _Streak(passing_since, ever_passed, fails_after_pass, results[-1] if results else None)


def decide(
    policy: Policy,
    *,
    elapsed: float,
    events: Sequence[TargetEvent],
    results: Mapping[str, Sequence[ProbeResult]],
    result_times: Mapping[str, Sequence[float]],
) -> Verdict:
    """Judge a candidate `elapsed` seconds after it was started.

    `results[name]` are the probe's results in order and `result_times[name]` when each was taken (seconds since
    the candidate started). Pure: the same inputs always give the same verdict.
    """
    for event in events:
        if event.kind in FATAL_EVENTS:
            what = FATAL_EVENTS[event.kind]
            if event.kind is EventKind.EXITED and event.exit_code is not None:
                what = f"process exited with code {event.exit_code}"
            detail = f": {event.detail}" if event.detail and event.kind is not EventKind.EXITED else ""
            return Failed(f"{what}{detail}", code=str(event.kind), evidence={"event": event.to_dict()})

    streaks = {
        rule.name: _streak(rule, results.get(rule.name, ()), result_times.get(rule.name, ()))
        for rule in policy.probes
    }
    for rule in policy.probes:
        s = streaks[rule.name]
        if s.ever_passed and s.failures_after_pass >= rule.failure_threshold:
            last = s.last.detail if s.last else ""
            return Failed(
                f"{rule.name} passed, then failed {s.failures_after_pass} times in a row: {last}",
                code="unhealthy_after_ready",
            )

    not_passing = [rule.name for rule in policy.probes if streaks[rule.name].passing_since is None]
    if not not_passing:
        ready_since = max((s.passing_since or 0.0) for s in streaks.values()) if streaks else 0.0
        stable = elapsed - ready_since
        if stable >= policy.stable_for:
            n = len(policy.probes)
            return Healthy(f"{'the probe' if n == 1 else f'all {n} probes'} passing for {stable:.1f}s")
        return Pending(f"stable for {stable:.1f}s of {policy.stable_for:.1f}s")

    if elapsed >= policy.deadline:
        parts = [f"{name}: {_last_detail(streaks[name])}" for name in not_passing]
        never_opened = all(_never_opened(results.get(name, ())) for name in not_passing)
        code = "port_never_opened" if never_opened else "deadline"
        head = "port never opened" if never_opened else "not healthy"
        return Failed(f"{head} within the {policy.deadline:g}s deadline ({'; '.join(parts)})", code=code)
    return Pending(
        "waiting for " + ", ".join(f"{name} ({_last_detail(streaks[name])})" for name in not_passing)
    )


def _last_detail(streak: _Streak) -> str:
    return streak.last.detail if streak.last else "never ran"


def _never_opened(results: Sequence[ProbeResult]) -> bool:
    """True when a probe ran and every result was a refused connection: nothing ever listened."""
    return bool(results) and all(not r.ok and any(m in r.detail for m in _REFUSED) for r in results)
