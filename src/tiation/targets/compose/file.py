"""The compose file of one container instance (pure): image, host network, env, config mount, healthcheck, labels.

Secret env values never enter the file: each becomes `${TIATION_SECRET_<n>}`, which `docker-compose` fills from
its own process environment when it creates the container. Every other string is escaped (`$` → `$$`) so that
compose's interpolation leaves it exactly as written.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tiation.errors import TargetError
from tiation.secrets import SecretRef
from tiation.targets.base import Release
from tiation.targets.proxied.spec import fill

FILE_VERSION = "2.4"
CONFIG_MOUNT = "/tiation/config"
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
    """A compose project name as docker-compose v1 normalises it (lower case; `-`, `_`, letters, digits)."""
    return _PROJECT_CHARS.sub("", "-".join(parts).lower())


def escape(value: str) -> str:
    """`value` protected from compose's `${VAR}` interpolation."""
    return value.replace("$", "$$")


def _duration(seconds: float) -> str:
    return f"{max(round(seconds * 1000), 1)}ms"


def cpus(quantity: str) -> float:
    """A CPU quantity (`250m`, `0.5`, `2`) as a number of CPUs."""
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def memory_bytes(quantity: str) -> int:
    """A memory quantity (`128Mi`, `1G`, `1000`) in bytes."""
    match = _MEMORY.match(quantity)
    if match is None:
        raise TargetError(f"not a memory quantity: {quantity!r}")
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2) or ""])


def healthcheck(probe: Mapping[str, Any] | None, host: str, port: int) -> dict[str, Any] | None:
    """A Docker healthcheck from the release's first probe: http → wget/curl, tcp → nc; none for a command
    probe (it runs on the deploying host, not in the container) or when there is no probe."""
    if not probe:
        return None
    target_port = int(probe.get("port") or port)
    if probe.get("kind") == "http":
        url = shlex.quote(f"http://{host}:{target_port}{probe.get('path', '/')}")
        test = f"wget -q -O /dev/null {url} || curl -fsS -o /dev/null {url}"
    elif probe.get("kind") == "tcp":
        test = f"nc -z {shlex.quote(host)} {target_port}"
    else:
        return None
    return {
        "test": ["CMD-SHELL", escape(test)],
        "interval": _duration(float(probe.get("interval_s", 1.0))),
        "timeout": _duration(float(probe.get("timeout_s", 1.0))),
        "retries": max(int(probe.get("failure_threshold", 3)), 1),
        "start_period": _duration(float(probe.get("initial_delay_s", 0.0))),
    }


def _resources(resources: Mapping[str, Any]) -> dict[str, Any]:
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


def compose_file(release: Release, inst: ComposeInstance) -> tuple[dict[str, Any], dict[str, SecretRef]]:
    """The compose file of `inst`, and the secret references its `${TIATION_SECRET_<n>}` variables stand for."""
    if not release.image:
        raise TargetError(f"release {release.service} {release.version} has no image (services.*.image)")
    env: dict[str, str] = {}
    secrets: dict[str, SecretRef] = {}
    for key, value in sorted(release.env.items()):
        if isinstance(value, SecretRef):
            var = SECRET_VAR.format(n=len(secrets))
            secrets[var] = value
            env[key] = "${" + var + "}"
        else:
            env[key] = escape(str(value))
    env["PORT"] = str(inst.port)
    env["TIATION_CONFIG_DIR"] = CONFIG_MOUNT
    service: dict[str, Any] = {
        "image": escape(release.image),
        "container_name": inst.project,
        "network_mode": "host",
        "restart": "on-failure",
        "environment": env,
        "volumes": [
            {"type": "bind", "source": str(inst.config_dir), "target": CONFIG_MOUNT, "read_only": True}
        ],
        "stop_grace_period": f"{max(math.ceil(release.stop_timeout), 1)}s",  # the engine takes whole seconds
        "labels": {k: escape(v) for k, v in labels_of(release, inst).items()},
    }
    if release.command:
        config_dir = Path(CONFIG_MOUNT)
        service["command"] = [
            escape(fill(arg, port=inst.port, host=inst.host, config_dir=config_dir))
            for arg in release.command
        ]
    probes = release.workload.get("probes") or []
    check = healthcheck(probes[0] if probes else None, inst.host, inst.port)
    if check is not None:
        service["healthcheck"] = check
    service.update(_resources(release.workload.get("resources") or {}))
    return {"version": FILE_VERSION, "services": {release.service: service}}, secrets
