"""The Target interface: where services run.

A target knows how to start a *candidate* instance of a release next to whatever is serving now, report what
happens to it, and then either *promote* it (it serves; the previous instance is retired) or *abort* it (it is
stopped; the previous instance never stopped serving). The deploy engine decides; the target only does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tiation.secrets import SecretRef
from tiation.targets.probes import Workload

if TYPE_CHECKING:
    from tiation.targets.capabilities import Capabilities

EnvMap = Mapping[str, "str | SecretRef"]


@dataclass(frozen=True)
class Release:
    """Everything needed to bring one version of one service back, exactly.

    `command` may hold the placeholders `{port}`, `{host}` and `{config_dir}`, filled per instance by the target;
    `{version}` is already substituted. Secret env values stay references (never values) so a release can be
    stored and shown safely; the target resolves them only when it starts a process.
    """

    environment: str
    service: str
    version: str
    command: tuple[str, ...]
    port: int
    env: Mapping[str, str | SecretRef] = field(default_factory=dict)
    config: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    stop_timeout: float = 10.0
    image: str | None = None
    """Container image (container targets); `{version}` already substituted."""
    replicas: int = 1
    workload: Workload = field(default_factory=Workload)
    """What a container target needs besides the image: typed probe specs, resources, Secrets read as env."""

    def __post_init__(self) -> None:
        # A workload given in its stored (dict) form is read into the typed one.
        if not isinstance(self.workload, Workload):
            object.__setattr__(self, "workload", Workload.from_dict(self.workload))

    @property
    def digest(self) -> str:
        """Content hash of the release: same inputs, same digest (`sha256:` + 64 hex)."""
        blob = json.dumps(self.to_dict(include_digest=False), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()

    def to_dict(self, *, include_digest: bool = True) -> dict[str, Any]:
        """A JSON-safe form (secret references as `{"secret": "env:NAME"}`)."""
        out: dict[str, Any] = {
            "environment": self.environment,
            "service": self.service,
            "version": self.version,
            "command": list(self.command),
            "port": self.port,
            "env": {k: _env_value(v) for k, v in sorted(self.env.items())},
            "config": dict(sorted(self.config.items())),
            "cwd": self.cwd,
            "stop_timeout": self.stop_timeout,
        }
        # Container fields are written only when set, so the digests of process releases stay as they were.
        if self.image is not None:
            out["image"] = self.image
            out["replicas"] = self.replicas
            out["workload"] = json.loads(json.dumps(self.workload.to_dict(), sort_keys=True))
        if include_digest:
            out["digest"] = self.digest
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Release:
        """Inverse of `to_dict`."""
        env: dict[str, str | SecretRef] = {}
        for key, value in data.get("env", {}).items():
            if isinstance(value, dict):
                base = value.get("base")
                env[key] = SecretRef(value["secret"], base=Path(base) if base else None)
            else:
                env[key] = str(value)
        return cls(
            environment=data["environment"],
            service=data["service"],
            version=data["version"],
            command=tuple(data["command"]),
            port=int(data["port"]),
            env=env,
            config=dict(data.get("config", {})),
            cwd=data.get("cwd"),
            stop_timeout=float(data.get("stop_timeout", 10.0)),
            image=data.get("image"),
            replicas=int(data.get("replicas", 1)),
            workload=Workload.from_dict(data.get("workload") or {}),
        )


def _env_value(value: str | SecretRef) -> str | dict[str, str]:
    if not isinstance(value, SecretRef):
        return value
    out = {"secret": value.ref}
    if value.base is not None:  # a relative file: reference must resolve where the platform file is
        out["base"] = str(value.base)
    return out


class EventKind(StrEnum):
    """What a target can report about an instance. The verdict decides which ones can never heal."""

    STARTED = "started"
    EXITED = "exited"  # the process/container exited (exit_code set)
    RESTARTED = "restarted"  # the supervisor started it again after an exit
    CRASH_LOOP = "crash_loop"  # restarted repeatedly (CrashLoopBackOff)
    IMAGE_PULL_FAILED = "image_pull_failed"  # ImagePullBackOff / ErrImagePull / command not found
    CONFIG_ERROR = "config_error"  # CreateContainerConfigError, missing secret …
    OOM_KILLED = "oom_killed"
    UNSCHEDULABLE = "unschedulable"
    PROGRESS_DEADLINE = "progress_deadline"  # the platform's own deadline passed
    NOT_READY = "not_ready"  # running, but its readiness probe kept failing past the probe's own threshold
    INFO = "info"


@dataclass(frozen=True)
class TargetEvent:
    """One thing that happened to a candidate instance."""

    kind: EventKind
    at: datetime
    detail: str = ""
    exit_code: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "at": self.at.isoformat(),
            "detail": self.detail,
            "exit_code": self.exit_code,
        }


@dataclass(frozen=True)
class Endpoint:
    """Where a probe can reach an instance."""

    host: str
    port: int


@dataclass(frozen=True)
class Instance:
    """One running (or recently running) instance of a release."""

    id: str
    version: str
    digest: str
    state: str  # "running" | "exited" | "stopped" | "starting" | "unknown" (the target cannot tell)
    endpoint: Endpoint | None = None
    pid: int | None = None
    restarts: int = 0
    started_at: datetime | None = None
    log_path: str | None = None


@dataclass(frozen=True)
class Observed:
    """What the target sees of a service now."""

    service: str
    serving: Instance | None  # the instance that receives traffic, if any
    instances: tuple[Instance, ...] = ()
    public: Endpoint | None = None  # where clients reach the service
    proxy_down: bool = False  # an instance serves, but the proxy in front of it is dead: clients get nothing

    @property
    def version(self) -> str | None:
        return self.serving.version if self.serving else None


@dataclass(frozen=True)
class Rollout:
    """A candidate instance started by `apply`, waiting for promote or abort."""

    release: Release
    instance_id: str
    endpoint: Endpoint
    started_at: datetime
    previous_instance_id: str | None = None


class Target(Protocol):
    """Where services run. Implementations: `local`, `compose`, `kubernetes`, and the shipped `fake`."""

    kind: str

    def capabilities(self) -> Capabilities:
        """The target's optional abilities (`tiation.targets.capabilities`; `NO_CAPABILITIES`: none)."""
        ...

    def check(self) -> None:
        """Raise TargetError if the target cannot be reached or used."""
        ...

    def observe(self, service: str) -> Observed:
        """What runs now for `service` (serving instance may be None)."""
        ...

    def apply(self, release: Release) -> Rollout:
        """Start a candidate of `release` next to the serving instance; do not route traffic to it yet."""
        ...

    def events(self, rollout: Rollout) -> list[TargetEvent]:
        """Events of the candidate since the previous call (non-blocking)."""
        ...

    def promote(self, rollout: Rollout) -> None:
        """Route traffic to the candidate, then retire the previous instance gracefully."""
        ...

    def abort(self, rollout: Rollout) -> None:
        """Stop the candidate; the previous instance keeps serving, untouched."""
        ...

    def discard(self, service: str, instance_id: str) -> None:
        """Stop an instance that is not serving (a candidate left behind by a deploy that died). Never the
        serving instance: that is refused with TargetError."""
        ...

    def stop(self, service: str) -> None:
        """Stop every instance of `service` and stop serving it."""
        ...

    def logs(self, service: str, *, instance_id: str | None = None, lines: int = 50) -> list[str]:
        """The last `lines` log lines of the serving instance (or of `instance_id`)."""
        ...
