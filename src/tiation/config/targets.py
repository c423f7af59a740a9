"""Deploy targets in the platform file: each kind's settings, what each kind needs of a service (data, so no
module tests a kind string), and what a service needs to run in a container."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator

from tiation.config.base import Name, Strict
from tiation.config.durations import Duration

_CPU = re.compile(r"^(\d+(\.\d+)?|\d+m)$")
_MEMORY = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$")


def _quantity(value: str | None, pattern: re.Pattern[str], what: str, examples: str) -> str | None:
    """`value` if it is unset or matches `pattern`, else a ValueError naming `what` it should be."""
    if value is not None and not pattern.match(value):
        raise ValueError(f"not {what}: {value!r} (e.g. {examples})")
    return value


class LocalTargetSettings(Strict):
    """Settings of the `local` target (services as supervised processes on this machine)."""

    host: str = "127.0.0.1"


class KubernetesSettings(Strict):
    """Where an environment on the `kubernetes` target lives: a kubeconfig context and a namespace."""

    kubeconfig: str | None = None
    """Path of the kubeconfig (relative to the platform file); default: $KUBECONFIG, then ~/.kube/config."""
    context: str | None = None
    """The kubeconfig context; default: the file's current context."""
    namespace: Name = "default"
    progress_deadline: Duration | None = None
    """The Deployments' `progressDeadlineSeconds`; default: the service's health deadline. The controller's
    verdict is honoured as well as tiation's own: whichever fails first fails the deploy."""


class ComposeSettings(Strict):
    """Where an environment on the `compose` target lives: a Docker engine and a compose project."""

    project: Name | None = None
    """The compose project name; default: `<project>-<environment>`."""
    docker_host: str | None = None
    """The engine's address (`unix:///path/docker.sock`); default: $DOCKER_HOST, then the system socket."""


TargetKind = Literal["local", "fake", "kubernetes", "compose"]


@dataclass(frozen=True)
class TargetTraits:
    """What a target kind needs of the services deployed to it."""

    containers: bool = False
    """It runs images (`services.*.image` is required; the release carries no command or working directory)."""
    local_run: bool = False
    """It runs processes on this machine (`services.*.local` is required)."""


TARGET_TRAITS: dict[str, TargetTraits] = {
    "local": TargetTraits(local_run=True),
    "fake": TargetTraits(),
    "kubernetes": TargetTraits(containers=True),
    "compose": TargetTraits(containers=True),
}


class TargetSettings(Strict):
    """An environment's target: its kind and the settings of each kind (only the chosen kind's are read)."""

    target: TargetKind = "local"
    local: LocalTargetSettings = Field(default_factory=LocalTargetSettings)
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)
    compose: ComposeSettings = Field(default_factory=ComposeSettings)

    @property
    def traits(self) -> TargetTraits:
        """What the target kind needs of the services deployed to it."""
        return TARGET_TRAITS[self.target]


class Quantities(Strict):
    """CPU (`250m`, `0.5`, `2`) and memory (`128Mi`, `1Gi`) in Kubernetes notation."""

    cpu: str | None = None
    memory: str | None = None

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: str | None) -> str | None:
        return _quantity(value, _CPU, "a CPU quantity", "250m, 0.5, 2")

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        return _quantity(value, _MEMORY, "a memory quantity", "128Mi, 1Gi")


class Resources(Strict):
    """Resource requests and limits of one service's container."""

    requests: Quantities = Field(default_factory=Quantities)
    limits: Quantities = Field(default_factory=Quantities)
