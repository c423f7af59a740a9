"""`tiation alerts explain`: what would happen to an alert with these labels at this time (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tiation.alerting import pipeline as stages
from tiation.alerting.messages import WhoIsOnCall, deliveries
from tiation.alerting.model import fingerprint
from tiation.config.alerting import Alerting, Silence


@dataclass(frozen=True)
class ExplainedStep:
    """One escalation step as it would run."""

    ordinal: int
    step: int
    round: int
    due_at: datetime
    targets: list[str]
    paged: list[str]
    notes: list[str]


@dataclass(frozen=True)
class Explanation:
    """Every decision the pipeline would take, and the pages that would follow unless acknowledged."""

    labels: dict[str, str]
    at: datetime
    fingerprint: str
    group_key: str
    decisions: list[stages.Decision]
    steps: list[ExplainedStep] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "labels": self.labels,
            "at": self.at.isoformat(),
            "fingerprint": self.fingerprint,
            "group_key": self.group_key,
            "decisions": [
                {"stage": d.stage, "outcome": d.outcome, "reason": d.reason} for d in self.decisions
            ],
            "steps": [
                {
                    "ordinal": s.ordinal,
                    "step": s.step + 1,
                    "label": stages.step_label(s.step, s.round),
                    "round": s.round + 1,
                    "due_at": s.due_at.isoformat(),
                    "targets": s.targets,
                    "paged": s.paged,
                    "notes": s.notes,
                }
                for s in self.steps
            ],
        }


def explain(
    cfg: Alerting,
    labels: Mapping[str, str],
    at: datetime,
    who: WhoIsOnCall,
    stored: Sequence[tuple[int, Silence]] = (),
) -> Explanation:
    """Run the pure stages for `labels` as if the alert fired at `at`; resolve on-call people per step."""
    labels = dict(labels)
    key = stages.group_key(labels, cfg.group_by)
    verdict = stages.run(stages.OPENING, stages.Facts(labels, cfg, at, stored, key=key))
    decisions = list(verdict.decisions)
    if verdict.silenced is None:  # the timeline says nothing here; an explanation says so
        after = next(i for i, d in enumerate(decisions) if d.stage == "severity") + 1
        decisions.insert(after, stages.Decision("silence", "none", "no silence applies"))
    plan = verdict.plan
    steps = []
    for planned in plan:
        found, notes = deliveries(planned.targets, planned.due_at, who)
        steps.append(
            ExplainedStep(
                planned.ordinal,
                planned.step,
                planned.repeat,
                planned.due_at,
                [stages.target_label(t) for t in planned.targets],
                [f"{d.person} via {d.notifier}" if d.person else d.notifier for d in found],
                notes,
            )
        )
    return Explanation(labels, at, fingerprint(labels), key, decisions, steps)
