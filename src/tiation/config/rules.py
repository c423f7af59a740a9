"""The platform file's `alerting.rules`: Prometheus alerting rule groups, as tiation renders them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tiation.config.base import Strict
from tiation.config.durations import Duration

AlertName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")]


class Rule(Strict):
    """One Prometheus alerting rule."""

    alert: AlertName
    expr: str = Field(min_length=1)
    for_: Duration | None = Field(default=None, alias="for")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class RuleGroup(Strict):
    """A named group of rules evaluated together."""

    name: str = Field(min_length=1)
    interval: Duration | None = None
    rules: list[Rule] = Field(min_length=1)
