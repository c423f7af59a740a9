"""The platform file's `people:` and `oncall:` sections (first version; the on-call work extends it)."""

from __future__ import annotations

from pydantic import Field

from tiation.config.base import Name, Strict


class Person(Strict):
    """Someone who can be paged, with the ways to reach them."""

    name: str = Field(min_length=1)
    email: str | None = None
    chat: str | None = None
    phone: str | None = None
    time_zone: str = "UTC"


class Oncall(Strict):
    """On-call schedules by name."""

    schedules: dict[Name, dict[str, object]] = Field(default_factory=dict)
