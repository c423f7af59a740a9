"""The platform file's `alerting:` section: rules to render, severities, policies, routes and silences."""

from __future__ import annotations

from pydantic import Field

from tiation.config.base import Strict
from tiation.config.rules import RuleGroup


class Alerting(Strict):
    """Everything tiation needs to turn alerts into pages."""

    rules: list[RuleGroup] = Field(default_factory=list)
