"""The platform file (`tiation.yaml`) as strict pydantic models: its deploy core (`PlatformCore`: project,
state, environments, services, objectives) here, the whole file (`Platform`) in `tiation.config.platform`.

Unknown keys are rejected everywhere (`extra="forbid"`); cross-references (`depends_on`, overrides naming a
service) are checked by `tiation.config.loader` so that each error can point at its line. The core does not
import the other sections' models, so a command that reads only the core (`tiation status`, answered from the
cached snapshot) does not build them. `Platform` is still importable from here.
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from tiation.config.base import EnvValue, Name, Secret, Strict
from tiation.config.durations import Duration
from tiation.config.targets import ComposeSettings, KubernetesSettings, Resources
from tiation.errors import unknown_name

if TYPE_CHECKING:
    from tiation.config.platform import Platform as Platform


class Project(Strict):
    name: Name
    description: str = ""


class LocalTargetSettings(Strict):
    """Settings of the `local` target (services as supervised processes on this machine)."""

    host: str = "127.0.0.1"


class Environment(Strict):
    target: Literal["local", "fake", "kubernetes", "compose"] = "local"
    local: LocalTargetSettings = Field(default_factory=LocalTargetSettings)
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)
    compose: ComposeSettings = Field(default_factory=ComposeSettings)
    approval: Literal["none", "required"] = "none"
    approval_ttl: Duration = timedelta(hours=4)
    lease_ttl: Duration = timedelta(seconds=60)
    """How long a deploy lease lives without a heartbeat (a killed deploy frees the pair after this)."""
    services: dict[Name, ServiceOverride] = Field(default_factory=dict)
    """Per-service overrides in this environment."""


class HttpCheck(Strict):
    path: str = "/health"
    port: int | None = Field(default=None, ge=1, le=65535)
    """Defaults to the instance's port."""
    expect_status: list[int] = Field(default_factory=lambda: [200])
    body_contains: str | None = None
    latency_budget: Duration | None = None
    """A response slower than this counts as a failed check."""


class TcpCheck(Strict):
    port: int | None = Field(default=None, ge=1, le=65535)


class CommandCheck(Strict):
    command: list[str] = Field(min_length=1)
    """Argument list; `{port}`, `{host}` and `{version}` are substituted."""
    expect_exit: int = 0


class Probe(Strict):
    """One health probe: exactly one of http, tcp, command, with its timing."""

    name: str | None = None
    http: HttpCheck | None = None
    tcp: TcpCheck | None = None
    command: CommandCheck | None = None
    interval: Duration = timedelta(seconds=1)
    timeout: Duration = timedelta(seconds=1)
    initial_delay: Duration = timedelta(0)
    success_threshold: int = Field(default=1, ge=1)
    failure_threshold: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Probe:
        kinds = [k for k in ("http", "tcp", "command") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a probe needs exactly one of 'http', 'tcp' or 'command'")
        return self

    @property
    def kind(self) -> str:
        return "http" if self.http else "tcp" if self.tcp else "command"

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.http:
            return f"http {self.http.path}"
        if self.tcp:
            return "tcp"
        assert self.command is not None
        return "command " + " ".join(self.command.command)


class Health(Strict):
    probes: list[Probe] = Field(default_factory=lambda: [Probe(tcp=TcpCheck())])
    deadline: Duration = timedelta(seconds=30)
    """The candidate must pass every probe within this time from its start."""
    stable_for: Duration = timedelta(seconds=0)
    """After passing, the candidate must stay up and passing this long before it is kept."""


class LocalRun(Strict):
    """How the `local` target runs a service."""

    command: list[str] = Field(min_length=1)
    """Argument list; `{version}`, `{port}`, `{host}` and `{config_dir}` are substituted."""
    cwd: str | None = None
    stop_timeout: Duration = timedelta(seconds=10)


class Service(Strict):
    tier: str = "standard"
    port: int = Field(ge=1, le=65535)
    depends_on: list[Name] = Field(default_factory=list)
    env: dict[str, EnvValue] = Field(default_factory=dict)
    config: dict[str, str] = Field(default_factory=dict)
    """Config files (name -> content) shipped with every release; part of the release digest."""
    local: LocalRun | None = None
    health: Health = Field(default_factory=Health)
    replicas: int = Field(default=1, ge=0)
    default_version: str | None = None
    image: str | None = None
    """Container image for the `kubernetes` and `compose` targets; `{version}` is substituted."""
    resources: Resources = Field(default_factory=Resources)
    env_secrets: list[Name] = Field(default_factory=list)
    """Kubernetes Secrets whose keys become environment variables (names only; values stay in the cluster)."""


class ServiceOverride(Strict):
    port: int | None = Field(default=None, ge=1, le=65535)
    env: dict[str, EnvValue] = Field(default_factory=dict)
    replicas: int | None = Field(default=None, ge=0)
    health: Health | None = None


class Objective(Strict):
    rto: Duration
    rpo: Duration


class Objectives(Strict):
    tiers: dict[str, Objective] = Field(default_factory=dict)


class StateSettings(Strict):
    url: Secret | None = None
    """A state-store URL as a secret reference (it may hold a password); default SQLite beside the file."""


class PlatformCore(Strict):
    """The sections of the platform file that deploys and `status` read; `Platform` adds the rest."""

    version: Literal[1] = 1
    project: Project
    state: StateSettings = Field(default_factory=StateSettings)
    environments: dict[Name, Environment] = Field(min_length=1)
    services: dict[Name, Service] = Field(min_length=1)
    objectives: Objectives = Field(default_factory=Objectives)

    def require_environment(self, name: str) -> Environment:
        """The named environment, or a one-line UsageError listing the known ones."""
        if name not in self.environments:
            raise unknown_name("environment", name, self.environments)
        return self.environments[name]

    def require_service(self, name: str, *, allow_all: bool = False) -> None:
        """Raise a one-line UsageError unless `name` is a service (or `all`, when allowed)."""
        if name in self.services or (allow_all and name == "all"):
            return
        raise unknown_name("service", name, self.services, also="or 'all'" if allow_all else "")

    def service_in(self, environment: str, service: str) -> Service:
        """The service's settings with the environment's overrides applied."""
        base = self.services[service]
        override = self.environments[environment].services.get(service)
        if override is None:
            return base
        update: dict[str, Any] = {}
        if override.port is not None:
            update["port"] = override.port
        if override.env:
            update["env"] = {**base.env, **override.env}
        if override.replicas is not None:
            update["replicas"] = override.replicas
        if override.health is not None:
            update["health"] = override.health
        return base.model_copy(update=update)


def __getattr__(name: str) -> Any:
    # `Platform` lives in `tiation.config.platform` (it needs every section's models; this module needs none of
    # them); the name stays importable from here for existing code. A lazy alias, not a dependency: nothing
    # here uses it, so the import is by name and `tiation.config.platform` alone depends on this module.
    if name == "Platform":
        return importlib.import_module("tiation.config.platform").Platform
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
