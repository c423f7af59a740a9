"""One container instance of the compose target, as data (pure): its definition, labels and compose file.

The container is created through the Engine API (`container.py`); the instance's compose file is the readable
record of the same definition (image, host network, env, config mount, healthcheck, labels), which
`docker compose -p <project> -f <file> up` would turn into the same container. Secret env values never enter
the file: each is written `${TIATION_SECRET_<n>}`. Every other string is escaped (`$` → `$$`) so that compose's
interpolation leaves it exactly as written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tiation.errors import TargetError
from tiation.secrets import SecretRef
from tiation.targets.base import Release
from tiation.targets.compose.service import ServiceDefinition, compose_service, escape, service_definition

FILE_VERSION = "2.4"
CONFIG_MOUNT = "/tiation/config"
RESTART = "on-failure"  # restarts are counted (RestartCount) and a crash loop is reported
SECRET_VAR = "TIATION_SECRET_{n}"  # noqa: S105 - a variable name, not a secret
_PROJECT_CHARS = re.compile(r"[^-_a-z0-9]")
_MEMORY_UNITS = {
    "": 1,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$")


@dataclass(frozen=True)
class ComposeInstance:
    """What one instance's compose file is made from, besides the release."""

    instance_id: str
    project: str  # the compose project of this instance (`<project>-<service>-<id>`)
    base_project: str  # the environment's compose project
    host: str
    port: int
    config_dir: Path  # on the engine's host; mounted read-only at CONFIG_MOUNT


def compose_project(*parts: str) -> str:
    """A compose project name as compose normalises it (lower case; `-`, `_`, letters, digits)."""
    return _PROJECT_CHARS.sub("", "-".join(parts).lower())


def cpus(quantity: str) -> float:
    """A CPU quantity (`250m`, `0.5`, `2`) as a number of CPUs."""
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def memory_bytes(quantity: str) -> int:
    """A memory quantity (`128Mi`, `1G`, `1000`) in bytes."""
    match = _MEMORY.match(quantity)
    if match is None:
        raise TargetError(f"not a memory quantity: {quantity!r}")
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2) or ""])


def compose_resources(resources: Mapping[str, Any]) -> dict[str, Any]:
    """Resource limits in compose-file (2.4) keys: `cpus`, `mem_limit`, `mem_reservation` (bytes)."""
    out: dict[str, Any] = {}
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    if limits.get("cpu"):
        out["cpus"] = cpus(str(limits["cpu"]))
    if limits.get("memory"):
        out["mem_limit"] = memory_bytes(str(limits["memory"]))
    if requests.get("memory"):
        out["mem_reservation"] = memory_bytes(str(requests["memory"]))
    return out


def labels_of(release: Release, inst: ComposeInstance) -> dict[str, str]:
    """The labels that say what a container is (environment, service, version, digest, instance)."""
    return {
        "tiation.project": inst.base_project,
        "tiation.environment": release.environment,
        "tiation.service": release.service,
        "tiation.version": release.version,
        "tiation.digest": release.digest,
        "tiation.instance": inst.instance_id,
    }


def instance_definition(release: Release, inst: ComposeInstance) -> ServiceDefinition:
    """The container of `inst`: on its own port, config at CONFIG_MOUNT; no Docker check for a command probe."""
    if not release.image:
        raise TargetError(f"release {release.service} {release.version} has no image (services.*.image)")
    return service_definition(
        release, host=inst.host, port=inst.port, config_dir=CONFIG_MOUNT, command_probes=False
    )


def compose_file(release: Release, inst: ComposeInstance) -> tuple[dict[str, Any], dict[str, SecretRef]]:
    """The compose file of `inst` (a record of its container), and the secret references its
    `${TIATION_SECRET_<n>}` variables stand for."""
    definition = instance_definition(release, inst)
    labels = labels_of(release, inst)
    secrets: dict[str, SecretRef] = {}

    def variable(_name: str, ref: SecretRef) -> str:
        var = SECRET_VAR.format(n=len(secrets))
        secrets[var] = ref
        return "${" + var + "}"

    service = compose_service(definition, variable)
    service.update(
        {
            "container_name": inst.project,
            "network_mode": "host",
            "restart": RESTART,
            "volumes": [
                {
                    "type": "bind",
                    "source": str(inst.config_dir),
                    "target": definition.config_dir,
                    "read_only": True,
                }
            ],
            "stop_grace_period": f"{stop_seconds(definition.stop_timeout)}s",
            "labels": {k: escape(v) for k, v in labels.items()},
        }
    )
    service.update(compose_resources(definition.resources))
    return {"version": FILE_VERSION, "services": {definition.service: service}}, secrets


def stop_seconds(timeout: float) -> int:
    """A stop timeout in the whole seconds the engine takes (at least 1)."""
    return max(math.ceil(timeout), 1)
