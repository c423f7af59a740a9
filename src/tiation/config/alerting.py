"""The platform file's `alerting:` section: intake auth, rules to render, severities, policies, routes, silences.

How the parts meet: an alert's `severity` label picks a severity (its channels are notified at once, and its
`escalation_delay` is the default wait between policy steps; `none` means notify the channels and never page).
A route (first match wins, else `default_policy`) picks a policy: ordered steps that notify channels, the people
on call in a schedule, or named people, then wait; the whole list runs `repeat` more times unless acknowledged.
Cross-references (notifiers, schedules, people, policies) are checked by `tiation.config.checks`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator

from tiation.config.base import Name, Secret, Strict, matching
from tiation.config.durations import Duration
from tiation.config.rules import RuleGroup

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
IntakeKind = Literal["alertmanager", "pagerduty", "generic"]


def _sha256_hex(value: str) -> str:
    if not _SHA256_HEX.match(value):
        raise ValueError(
            "expected the SHA-256 of a token as 64 lowercase hex digits "
            '(printf %s "$TOKEN" | sha256sum), never the token itself'
        )
    return value


def _hhmm(value: str) -> str:
    return matching(_HHMM, value, "a wall-clock time 'HH:MM'")


def parse_instant(value: str) -> datetime:
    """An ISO 8601 date-time with a UTC offset (`Z` allowed) as an aware datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"expected a date-time with an offset like 2026-03-29T02:00:00+02:00, got {value!r}")
    return parsed


def _instant(value: str) -> str:
    try:
        parse_instant(value)
    except ValueError as exc:
        raise ValueError(
            str(exc) if "offset" in str(exc) else f"not an ISO 8601 date-time: {value!r}"
        ) from None
    return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)") from None
    return value


TokenHash = Annotated[str, AfterValidator(_sha256_hex)]
Instant = Annotated[str, AfterValidator(_instant)]
TimeZone = Annotated[str, AfterValidator(_zone)]
HHMM = Annotated[str, AfterValidator(_hhmm)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Intake(Strict):
    """How one intake authenticates callers: bearer tokens (stored as SHA-256) and/or an HMAC signature."""

    tokens_sha256: list[TokenHash] = Field(default_factory=list)
    hmac_secret: Secret | None = None
    """Secret for `X-Tiation-Signature: sha256=<hex HMAC-SHA256 of the body>`."""
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)

    @model_validator(mode="after")
    def _some_auth(self) -> Intake:
        if not self.tokens_sha256 and self.hmac_secret is None:
            raise ValueError(
                "an intake needs tokens_sha256 or hmac_secret (unauthenticated intake is refused)"
            )
        return self


class Severity(Strict):
    """A severity level: the channels told at once, and the default wait between escalation steps."""

    channels: list[Name] = Field(default_factory=list)
    escalation_delay: Duration = timedelta(0)
    """`none`/0: notify the channels once and never escalate (the seed's `info`)."""


class Target(Strict):
    """Who a step notifies: exactly one of a notifier channel, a schedule's on-call person, or a person."""

    channel: Name | None = None
    schedule: Name | None = None
    person: Name | None = None
    via: list[Name] = Field(default_factory=list)
    """Notifiers used to reach a person (schedule/person targets); each must be a notifier name."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        chosen = [k for k in ("channel", "schedule", "person") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError("a step target needs exactly one of channel, schedule or person")
        if self.channel is not None and self.via:
            raise ValueError("'via' applies to schedule and person targets, not to a channel")
        if self.channel is None and not self.via:
            raise ValueError("a schedule or person target needs 'via' (the notifiers that reach them)")
        return self


class Step(Strict):
    """One escalation step: notify these targets, then wait (default: the severity's escalation delay)."""

    notify: list[Target] = Field(min_length=1)
    wait: Duration | None = None


class Policy(Strict):
    """An escalation policy: steps in order; the whole list runs `repeat` more times until acknowledged."""

    steps: list[Step] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=20)


class Route(Strict):
    """Label matchers (all must match; values are full-match regular expressions) -> policy."""

    match: dict[str, str] = Field(min_length=1)
    policy: Name

    @model_validator(mode="after")
    def _regexes(self) -> Route:
        for name, pattern in self.match.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"match.{name}: not a regular expression: {exc}") from None
        return self


class Recurrence(Strict):
    """A weekly window in a time zone, e.g. Sundays 02:00-04:00 Europe/Berlin."""

    days: list[Weekday] = Field(min_length=1)
    start: HHMM
    end: HHMM
    time_zone: TimeZone = "UTC"


class Silence(Strict):
    """Alerts matching `match` are recorded but not escalated while the silence is active."""

    match: dict[str, str] = Field(min_length=1)
    comment: str = ""
    starts_at: Instant | None = None
    """ISO 8601 with an offset, for a one-off window (with `ends_at`)."""
    ends_at: Instant | None = None
    every: Recurrence | None = None
    """A recurring maintenance window instead of a one-off one."""

    @model_validator(mode="after")
    def _one_kind(self) -> Silence:
        one_off = self.starts_at is not None or self.ends_at is not None
        if one_off == (self.every is not None):
            raise ValueError("a silence needs either starts_at and ends_at, or every")
        if one_off and (self.starts_at is None or self.ends_at is None):
            raise ValueError("a one-off silence needs both starts_at and ends_at")
        if self.starts_at and self.ends_at and parse_instant(self.ends_at) <= parse_instant(self.starts_at):
            raise ValueError("ends_at must be after starts_at")
        return self


class Alerting(Strict):
    """Everything tiation needs to turn alerts into pages."""

    intake: dict[IntakeKind, Intake] = Field(default_factory=dict)
    group_by: list[str] = Field(default_factory=lambda: ["alertname", "service"])
    """Alerts whose values for these labels agree belong to the same open incident."""
    rules: list[RuleGroup] = Field(default_factory=list)
    severities: dict[Name, Severity] = Field(default_factory=dict)
    default_severity: Name = "warning"
    """For alerts without a `severity` label, or with one that is not configured."""
    policies: dict[Name, Policy] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    default_policy: Name | None = None
    silences: list[Silence] = Field(default_factory=list)


WEEKDAYS = _WEEKDAYS
"""Weekday names in `date.weekday()` order."""
