"""The platform file's `alerting.rules`: Prometheus alerting rule groups, as tiation renders them.

A rule is written as in a Prometheus rule file, plus optional `tests:` (series fed to `promtool test rules` and
what to expect when). `tiation render prometheus` derives a test for every rule whose `expr` is a simple
comparison; `tests:` are for the others. `check_rules` holds the checks that need more than one field (the
`severity` label against the configured severities, unique group names); `tiation.config.checks` locates them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field

from tiation.config.base import Strict
from tiation.config.durations import Duration

AlertName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")]
LabelName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")]
GroupName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,99}$")]
"""A group name is also the name of its rendered files, so it is kept to letters, digits, `-` and `_`."""

DEFAULT_SEVERITIES = ("info", "warning", "critical", "emergency")
"""The seed's four levels: the allowed `severity` values when `alerting.severities` is empty."""

RuleProblem = tuple[tuple[Any, ...], str]
"""(path in the platform file, message)."""


class SeriesInput(Strict):
    """One input series of a rule test, in promtool's notation (`values: '0+10x20'`)."""

    series: str = Field(min_length=1)
    values: str = Field(min_length=1)


class Expectation(Strict):
    """What the rule does at one evaluation time of a test."""

    at: Duration
    firing: bool
    labels: dict[LabelName, str] = Field(default_factory=dict)
    """Labels of the firing alert besides the rule's own (those of the expression's result); they win over
    the rule's labels, so a templated rule label is written here as it comes out."""
    annotations: dict[LabelName, str] | None = None
    """The firing alert's annotations; default: the rule's (which then must not use templates)."""


class RuleTest(Strict):
    """An explicit test for a rule: series sampled every `interval`, and expectations at given times."""

    name: str | None = None
    interval: Duration = timedelta(minutes=1)
    series: list[SeriesInput] = Field(min_length=1)
    expect: list[Expectation] = Field(min_length=1)


class Rule(Strict):
    """One Prometheus alerting rule."""

    alert: AlertName
    expr: str = Field(min_length=1)
    for_: Duration | None = Field(default=None, alias="for")
    labels: dict[LabelName, str] = Field(default_factory=dict)
    annotations: dict[LabelName, str] = Field(default_factory=dict)
    tests: list[RuleTest] = Field(default_factory=list)
    """Explicit tests, for rules whose threshold cannot be derived from `expr` (or in addition to it)."""


class RuleGroup(Strict):
    """A named group of rules evaluated together."""

    name: GroupName
    interval: Duration | None = None
    rules: list[Rule] = Field(min_length=1)


def has_template(text: str) -> bool:
    """Whether a label or annotation value uses Go templating (`{{ … }}`)."""
    return "{{" in text


def check_rules(
    groups: Sequence[RuleGroup], severities: Sequence[str] = DEFAULT_SEVERITIES
) -> list[RuleProblem]:
    """Problems with `alerting.rules` that need more than one field; `severities` are the allowed levels."""
    return list(_problems(groups, severities))


def _problems(groups: Sequence[RuleGroup], severities: Sequence[str]) -> Iterator[RuleProblem]:
    seen: dict[str, str] = {}
    allowed = ", ".join(severities)
    for gi, group in enumerate(groups):
        at_group = ("alerting", "rules", gi)
        folded = group.name.lower()
        if folded in seen:
            yield (*at_group, "name"), f"group name {group.name!r} is used twice (also {seen[folded]!r})"
        seen.setdefault(folded, group.name)
        if group.interval is not None and not group.interval:
            yield (*at_group, "interval"), "an evaluation interval must be longer than 0s"
        for ri, rule in enumerate(group.rules):
            at_rule = (*at_group, "rules", ri)
            severity = rule.labels.get("severity")
            if severity is None:
                yield (
                    (*at_rule, "labels", "severity"),
                    f"rule {rule.alert!r} needs a 'severity' label ({allowed})",
                )
            elif severity not in severities:
                yield (
                    (*at_rule, "labels", "severity"),
                    f"unknown severity {severity!r}; expected one of {allowed}",
                )
            if "alertname" in rule.labels:
                yield (*at_rule, "labels", "alertname"), "'alertname' is set by Prometheus from 'alert'"
            yield from _test_problems(rule, at_rule)


def _test_problems(rule: Rule, at_rule: tuple[Any, ...]) -> Iterator[RuleProblem]:
    templated_labels = sorted(k for k, v in rule.labels.items() if has_template(v))
    templated_annotations = any(has_template(v) for v in rule.annotations.values())
    for ti, test in enumerate(rule.tests):
        if not test.interval:
            yield (*at_rule, "tests", ti, "interval"), "a sample interval must be longer than 0s"
        for ei, expect in enumerate(test.expect):
            at = (*at_rule, "tests", ti, "expect", ei)
            if not expect.firing:
                continue
            missing = [k for k in templated_labels if k not in expect.labels]
            if missing:
                names = ", ".join(missing)
                yield (
                    (*at, "labels"),
                    f"the rule's labels {names} use templates: give their values in 'labels'",
                )
            if templated_annotations and expect.annotations is None:
                message = "the rule's annotations use templates: give the expected 'annotations'"
                yield (*at, "annotations"), message
