"""The Engine API create body of one instance's container (pure): `POST /containers/create?name=<project>`.

It is the instance's compose file (`file.py`) in the engine's own terms, made from the same definition: host
network, restart on failure, the config dir bind-mounted read-only, the healthcheck in nanoseconds, the stop
timeout, resources, and labels: tiation's, plus the ones `docker compose` puts on the containers of a project
(so `docker compose -p <project> ps` and `docker ps --filter label=com.docker.compose.project=...` find it).

Secret env values are revealed only into this body, which goes to the engine over its socket and nowhere else:
never a file, a command line or a log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tiation.secrets import SecretRef
from tiation.targets.compose.file import RESTART, ComposeInstance, compose_resources, stop_seconds
from tiation.targets.compose.service import Healthcheck, ServiceDefinition, healthcheck_fields

_NS = 1_000_000_000
_API_KEYS = {
    "test": "Test",
    "interval": "Interval",
    "timeout": "Timeout",
    "retries": "Retries",
    "start_period": "StartPeriod",
}
_RESOURCES = {"cpus": "NanoCpus", "mem_limit": "Memory", "mem_reservation": "MemoryReservation"}


def _ns(seconds: float) -> int:
    return max(round(seconds * _NS), 1_000_000)  # the engine refuses anything under 1ms (0 is "inherit")


def engine_healthcheck(check: Healthcheck) -> dict[str, Any]:
    """A healthcheck as the Engine API takes it (durations in nanoseconds)."""
    return {_API_KEYS[key]: value for key, value in healthcheck_fields(check, _ns).items()}


def compose_labels(project: str, service: str) -> dict[str, str]:
    """The labels `docker compose` gives the one container of service `service` in project `project`."""
    return {
        "com.docker.compose.project": project,
        "com.docker.compose.service": service,
        "com.docker.compose.container-number": "1",
        "com.docker.compose.oneoff": "False",
    }


def _host_config(definition: ServiceDefinition, inst: ComposeInstance) -> dict[str, Any]:
    mount = {
        "Type": "bind",
        "Source": str(inst.config_dir),
        "Target": definition.config_dir,
        "ReadOnly": True,
    }
    host: dict[str, Any] = {
        "NetworkMode": "host",
        "RestartPolicy": {"Name": RESTART, "MaximumRetryCount": 0},
        "Mounts": [mount],
    }
    resources = compose_resources(definition.resources)
    for key, name in _RESOURCES.items():
        if key in resources:
            host[name] = round(resources[key] * _NS) if key == "cpus" else resources[key]
    return host


def create_body(
    definition: ServiceDefinition,
    inst: ComposeInstance,
    labels: Mapping[str, str],
    secrets: Mapping[str, str],
) -> dict[str, Any]:
    """The create body of `inst`'s container; `secrets` are the revealed values of the secret env entries."""
    env = [
        f"{name}={secrets[name] if isinstance(value, SecretRef) else value}" for name, value in definition.env
    ]
    body: dict[str, Any] = {
        "Image": definition.image,
        "Env": env,
        "Labels": {**labels, **compose_labels(inst.project, definition.service)},
        "StopTimeout": stop_seconds(definition.stop_timeout),
        "HostConfig": _host_config(definition, inst),
    }
    if definition.command:
        body["Cmd"] = list(definition.command)
    if definition.healthcheck is not None:
        body["Healthcheck"] = engine_healthcheck(definition.healthcheck)
    return body
