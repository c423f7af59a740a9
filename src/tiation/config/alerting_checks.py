"""Cross-references of the `alerting:` section: notifiers, schedules, people, policies and severities exist."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from typing import Any

from tiation.config.models import Platform

PathProblem = tuple[list[Any], str]
"""(path inside the file, message)."""


def _unknown(kind: str, name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(sorted(known)) or 'none'})"
    return f"unknown {kind} {name!r}{hint}"


def alerting_problems(platform: Platform) -> Iterator[PathProblem]:
    """Every dangling name in `alerting:`, with its path."""
    cfg = platform.alerting
    notifiers, people, schedules = platform.notifiers, platform.people, platform.oncall.schedules
    for sev_name, severity in cfg.severities.items():
        for i, channel in enumerate(severity.channels):
            if channel not in notifiers:
                yield (
                    ["alerting", "severities", sev_name, "channels", i],
                    _unknown("notifier", channel, list(notifiers)),
                )
    if cfg.severities and cfg.default_severity not in cfg.severities:
        yield (
            ["alerting", "default_severity"],
            _unknown("severity", cfg.default_severity, list(cfg.severities)),
        )
    for pol_name, policy in cfg.policies.items():
        for s, step in enumerate(policy.steps):
            for t, target in enumerate(step.notify):
                base = ["alerting", "policies", pol_name, "steps", s, "notify", t]
                if target.channel is not None and target.channel not in notifiers:
                    yield [*base, "channel"], _unknown("notifier", target.channel, list(notifiers))
                if target.schedule is not None and target.schedule not in schedules:
                    yield [*base, "schedule"], _unknown("schedule", target.schedule, list(schedules))
                if target.person is not None and target.person not in people:
                    yield [*base, "person"], _unknown("person", target.person, list(people))
                for v, via in enumerate(target.via):
                    if via not in notifiers:
                        yield [*base, "via", v], _unknown("notifier", via, list(notifiers))
    for r, route in enumerate(cfg.routes):
        if route.policy not in cfg.policies:
            yield ["alerting", "routes", r, "policy"], _unknown("policy", route.policy, list(cfg.policies))
    if cfg.default_policy is not None and cfg.default_policy not in cfg.policies:
        yield ["alerting", "default_policy"], _unknown("policy", cfg.default_policy, list(cfg.policies))
