"""Settings of the container targets (`kubernetes`, `compose`) and what a service needs to run in a container."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from tiation.config.base import Name, Strict
from tiation.config.durations import Duration

_CPU = re.compile(r"^(\d+(\.\d+)?|\d+m)$")
_MEMORY = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$")


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


class Quantities(Strict):
    """CPU (`250m`, `0.5`, `2`) and memory (`128Mi`, `1Gi`) in Kubernetes notation."""

    cpu: str | None = None
    memory: str | None = None

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: str | None) -> str | None:
        if value is not None and not _CPU.match(value):
            raise ValueError(f"not a CPU quantity: {value!r} (e.g. 250m, 0.5, 2)")
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        if value is not None and not _MEMORY.match(value):
            raise ValueError(f"not a memory quantity: {value!r} (e.g. 128Mi, 1Gi)")
        return value


class Resources(Strict):
    """Resource requests and limits of one service's container."""

    requests: Quantities = Field(default_factory=Quantities)
    limits: Quantities = Field(default_factory=Quantities)
