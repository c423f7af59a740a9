"""The probe specs and container settings a `Release` carries, as typed frozen objects.

A container target renders the probe kinds it knows natively into its own health checks (`http`, `tcp`,
`command`: a pod's readiness probe, a Docker healthcheck). Any other kind (`prometheus` …) travels as an
`EngineProbe` — its kind and its settings as data — which no target renders: the deploy engine runs it.
So a new probe kind needs no change here.

The JSON form (`to_dict`) is exactly the one releases were stored in before these types existed, because the
release digest is a hash of it. Old dict-style reads (`probe["kind"]`, `workload.get("probes")`) still work:
both types are read-only mappings of that form.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"

NATIVE_KINDS = frozenset({"http", "tcp", "command"})
"""Probe kinds that container targets render into their own health checks."""


class _JsonMapping(Mapping[str, Any]):
    """Read-only dict view of an object's JSON form (for code that reads the stored shape)."""

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())


@dataclass(frozen=True, kw_only=True, eq=True)
class ProbeSpec(_JsonMapping):
    """What every probe has: its name and timing (seconds). One subclass per kind."""

    name: str
    interval_s: float = 1.0
    timeout_s: float = 1.0
    initial_delay_s: float = 0.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @property
    def kind(self) -> str:
        raise NotImplementedError

    def fields(self) -> dict[str, JsonValue]:
        """The kind's own settings, in their stored form."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "interval_s": self.interval_s,
            "timeout_s": self.timeout_s,
            "initial_delay_s": self.initial_delay_s,
            "success_threshold": self.success_threshold,
            "failure_threshold": self.failure_threshold,
            **self.fields(),
        }


@dataclass(frozen=True, kw_only=True, eq=True)
class HttpProbe(ProbeSpec):
    """GET `path` on `port` (default: the release's port)."""

    path: str = "/"
    port: int | None = None

    @property
    def kind(self) -> str:
        return "http"

    def fields(self) -> dict[str, JsonValue]:
        return {"path": self.path, "port": self.port}


@dataclass(frozen=True, kw_only=True, eq=True)
class TcpProbe(ProbeSpec):
    """Connect to `port` (default: the release's port)."""

    port: int | None = None

    @property
    def kind(self) -> str:
        return "tcp"

    def fields(self) -> dict[str, JsonValue]:
        return {"port": self.port}


@dataclass(frozen=True, kw_only=True, eq=True)
class CommandProbe(ProbeSpec):
    """Run `command` (an argument list; `{host}`, `{port}`, `{version}` filled in)."""

    command: tuple[str, ...]

    @property
    def kind(self) -> str:
        return "command"

    def fields(self) -> dict[str, JsonValue]:
        return {"command": list(self.command)}


@dataclass(frozen=True, kw_only=True, eq=True)
class EngineProbe(ProbeSpec):
    """A probe kind no target renders (the deploy engine runs it): its kind and its settings as data."""

    probe_kind: str
    settings: Mapping[str, JsonValue] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.probe_kind

    def fields(self) -> dict[str, JsonValue]:
        return dict(self.settings)


_COMMON = (
    "name",
    "kind",
    "interval_s",
    "timeout_s",
    "initial_delay_s",
    "success_threshold",
    "failure_threshold",
)


def probe_from_dict(data: Mapping[str, Any]) -> ProbeSpec:
    """The typed probe of a stored (or just built) probe dict."""
    if isinstance(data, ProbeSpec):
        return data
    kind = str(data["kind"])
    common: dict[str, Any] = {
        "name": str(data.get("name") or kind),
        "interval_s": data.get("interval_s", 1.0),
        "timeout_s": data.get("timeout_s", 1.0),
        "initial_delay_s": data.get("initial_delay_s", 0.0),
        "success_threshold": data.get("success_threshold", 1),
        "failure_threshold": data.get("failure_threshold", 3),
    }
    if kind == "http":
        return HttpProbe(path=str(data.get("path") or "/"), port=data.get("port"), **common)
    if kind == "tcp":
        return TcpProbe(port=data.get("port"), **common)
    if kind == "command":
        return CommandProbe(command=tuple(str(a) for a in data["command"]), **common)
    settings = {k: v for k, v in data.items() if k not in _COMMON}
    return EngineProbe(probe_kind=kind, settings=settings, **common)


@dataclass(frozen=True, eq=True)
class Workload(_JsonMapping):
    """What a container target needs besides the image: probes, resources, Secrets read as env, deadline."""

    probes: tuple[ProbeSpec, ...] = ()
    resources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """`{"requests": {"cpu": "250m"}, "limits": {"memory": "1Gi"}}` (Kubernetes notation)."""
    env_secrets: tuple[str, ...] = ()
    """Kubernetes Secrets whose keys become environment variables (names only)."""
    deadline_s: float | None = None
    """The service's verify deadline (None: the target's own default)."""

    @property
    def native_probes(self) -> tuple[ProbeSpec, ...]:
        """The probes a container target can render into its own health checks."""
        return tuple(p for p in self.probes if p.kind in NATIVE_KINDS)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "probes": [p.to_dict() for p in self.probes],
            "resources": {k: dict(v) for k, v in self.resources.items()},
            "env_secrets": list(self.env_secrets),
        }
        if self.deadline_s is not None:
            out["deadline_s"] = self.deadline_s
        return out

    def __getitem__(self, key: str) -> Any:
        # Probes are handed out typed (each is a mapping of its stored form as well).
        return self.probes if key == "probes" else self.to_dict()[key]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Workload:
        """The typed form of a stored workload (missing keys take their defaults)."""
        if isinstance(data, Workload):
            return data
        deadline = data.get("deadline_s")
        return cls(
            probes=tuple(probe_from_dict(p) for p in data.get("probes") or ()),
            resources={str(k): dict(v) for k, v in (data.get("resources") or {}).items()},
            env_secrets=tuple(str(s) for s in data.get("env_secrets") or ()),
            deadline_s=float(deadline) if deadline is not None else None,
        )
