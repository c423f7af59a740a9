"""Health probes in the platform file: one settings model per probe kind, and `Probe` (exactly one kind plus
its timing).

A probe kind is a `Check` subclass whose `kind` is the name of its field on `Probe`. Its runner lives in
`tiation.deploy.probes` (one module per kind); targets render only the kinds they know natively, and the
deploy engine runs the others. How to add a kind: docs/deploy.md, "Adding a probe kind".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Literal, get_args

from pydantic import Field, model_validator

from tiation.config.base import Strict
from tiation.config.durations import Duration


class Check(Strict):
    """The settings of one probe kind."""

    kind: ClassVar[str]

    def label(self) -> str:
        """How results of this check are named when the probe has no `name`."""
        return self.kind

    def release_fields(self) -> dict[str, Any]:
        """What a release records of this check (part of the release digest): all its settings by default."""
        return self.model_dump(mode="json")


class HttpCheck(Check):
    kind: ClassVar[str] = "http"
    path: str = "/health"
    port: int | None = Field(default=None, ge=1, le=65535)
    """Defaults to the instance's port."""
    expect_status: list[int] = Field(default_factory=lambda: [200])
    body_contains: str | None = None
    latency_budget: Duration | None = None
    """A response slower than this counts as a failed check."""

    def label(self) -> str:
        return f"http {self.path}"

    def release_fields(self) -> dict[str, Any]:
        return {"path": self.path, "port": self.port}


class TcpCheck(Check):
    kind: ClassVar[str] = "tcp"
    port: int | None = Field(default=None, ge=1, le=65535)

    def release_fields(self) -> dict[str, Any]:
        return {"port": self.port}


class CommandCheck(Check):
    kind: ClassVar[str] = "command"
    command: list[str] = Field(min_length=1)
    """Argument list; `{port}`, `{host}` and `{version}` are substituted."""
    expect_exit: int = 0

    def label(self) -> str:
        return "command " + " ".join(self.command)

    def release_fields(self) -> dict[str, Any]:
        return {"command": list(self.command)}


class PrometheusCheck(Check):
    """An instant query against Prometheus' HTTP API: passing when the result is a non-empty vector and every
    sample's value satisfies `op value` (e.g. `up{job="cms"} >= 1`)."""

    kind: ClassVar[str] = "prometheus"
    url: str = "http://127.0.0.1:9090"
    """The Prometheus server (its `/api/v1/query` is asked)."""
    query: str = Field(min_length=1)
    """PromQL; `{host}`, `{port}` and `{version}` are substituted (the candidate's address and version)."""
    op: Literal[">", ">=", "<", "<=", "==", "!="] = ">="
    value: float = 1.0

    def label(self) -> str:
        return f"prometheus {self.query}"


class Probe(Strict):
    """One health probe: exactly one check kind, with its timing."""

    name: str | None = None
    http: HttpCheck | None = None
    tcp: TcpCheck | None = None
    command: CommandCheck | None = None
    prometheus: PrometheusCheck | None = None
    interval: Duration = timedelta(seconds=1)
    timeout: Duration = timedelta(seconds=1)
    initial_delay: Duration = timedelta(0)
    success_threshold: int = Field(default=1, ge=1)
    failure_threshold: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Probe:
        if len(self._checks()) != 1:
            kinds = [f"'{k}'" for k in check_kinds()]
            raise ValueError(f"a probe needs exactly one of {', '.join(kinds[:-1])} or {kinds[-1]}")
        return self

    def _checks(self) -> list[Check]:
        return [value for value in self.__dict__.values() if isinstance(value, Check)]

    @property
    def check(self) -> Check:
        """The probe's check (of its one kind)."""
        return self._checks()[0]

    @property
    def kind(self) -> str:
        return self.check.kind

    @property
    def label(self) -> str:
        return self.name or self.check.label()


def check_kinds() -> list[str]:
    """The probe kinds, in the order of their fields on `Probe`."""
    out = []
    for name, info in Probe.model_fields.items():
        if any(isinstance(arg, type) and issubclass(arg, Check) for arg in get_args(info.annotation)):
            out.append(name)
    return out
