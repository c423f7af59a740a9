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

from pydantic import Field

from tiation.config.base import EnvValue, Name, Secret, Strict
from tiation.config.durations import Duration
from tiation.config.probes import CommandCheck as CommandCheck
from tiation.config.probes import HttpCheck as HttpCheck
from tiation.config.probes import Probe as Probe
from tiation.config.probes import TcpCheck as TcpCheck
from tiation.config.targets import LocalTargetSettings as LocalTargetSettings
from tiation.config.targets import Resources, TargetSettings
from tiation.errors import unknown_name

if TYPE_CHECKING:
    from tiation.config.platform import Platform as Platform


class Project(Strict):
    name: Name
    description: str = ""


class Environment(TargetSettings):
    approval: Literal["none", "required"] = "none"
    approval_ttl: Duration = timedelta(hours=4)
    lease_ttl: Duration = timedelta(seconds=60)
    """How long a deploy lease lives without a heartbeat (a killed deploy frees the pair after this)."""
    services: dict[Name, ServiceOverride] = Field(default_factory=dict)
    """Per-service overrides in this environment."""


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
