"""One container service, as data (pure): the single builder shared by the compose target and `render compose`.

`service_definition` reads a `Release` (image, command, env, the first probe, resources) into a
`ServiceDefinition`. Two formats are made from it: the compose target turns it into an Engine API create body
(`targets/compose/container.py`), and compose files (the target's per-instance record, `render compose`) take
its image, command, environment and healthcheck from `compose_service`. So the healthcheck a rendered file
declares is the one the target gives its containers.

Strings in a definition are plain; `$` is escaped (`$$`) only when written into a compose file, where compose
would otherwise interpolate it. Secret env values stay `SecretRef`s: each format decides how a value reaches
the container (the API request's Env, or a `${VAR}` interpolation in a file), and none writes one down.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiation.secrets import SecretRef
from tiation.targets.base import Release
from tiation.targets.proxied.spec import fill

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Healthcheck:
    """A container healthcheck: the test as Docker runs it, and its timing in seconds (0 = no start period)."""

    test: tuple[str, ...]  # ("CMD-SHELL", script) or ("CMD", argv...)
    interval: float
    timeout: float
    retries: int
    start_period: float = 0.0


@dataclass(frozen=True)
class ServiceDefinition:
    """What a service's container is made of, whichever tool creates it."""

    service: str
    image: str
    command: tuple[str, ...]  # empty: the image's own command
    env: tuple[tuple[str, str | SecretRef], ...]  # PORT, TIATION_CONFIG_DIR, then the release's by name
    healthcheck: Healthcheck | None
    config_dir: str  # where the service's config files are mounted in the container (read-only)
    stop_timeout: float
    resources: Mapping[str, Any] = field(default_factory=dict)  # {"limits": {...}, "requests": {...}}

    @property
    def env_names(self) -> list[str]:
        """The names of the environment variables, in order."""
        return [name for name, _ in self.env]

    @property
    def secret_refs(self) -> dict[str, SecretRef]:
        """The env entries whose value is a secret reference."""
        return {name: value for name, value in self.env if isinstance(value, SecretRef)}


def service_definition(
    release: Release, *, host: str, port: int, config_dir: str, command_probes: bool
) -> ServiceDefinition:
    """The container of `release` listening on `host:port` (`$PORT`), its config files at `config_dir`.

    `command_probes`: whether a command probe becomes an in-container healthcheck. A rendered file has no
    other way to run one; the compose target runs command probes itself on the deploying host (the image
    need not have the command), so it declares no Docker healthcheck for them.
    """
    given = {"PORT": str(port), "TIATION_CONFIG_DIR": config_dir}  # these two win over the release's env
    env: list[tuple[str, str | SecretRef]] = list(given.items())
    env += sorted(
        (key, value if isinstance(value, SecretRef) else str(value))
        for key, value in release.env.items()
        if key not in given
    )
    command = tuple(fill(arg, port=port, host=host, config_dir=Path(config_dir)) for arg in release.command)
    probes = release.workload.native_probes  # the kinds a container can run; tiation runs the others
    check = healthcheck_of(probes[0], host, port) if probes else None
    if check is not None and check.test[0] == "CMD" and not command_probes:
        check = None
    return ServiceDefinition(
        service=release.service,
        image=release.image or "",
        command=command,
        env=tuple(env),
        healthcheck=check,
        config_dir=config_dir,
        stop_timeout=release.stop_timeout,
        resources=dict(release.workload.get("resources") or {}),
    )


def healthcheck_of(probe: Mapping[str, Any], host: str, port: int) -> Healthcheck | None:
    """The Docker healthcheck of a release probe: http → wget, tcp → nc, a command as it is (`{host}`,
    `{port}` filled); None for a kind it does not know."""
    kind = probe.get("kind")
    target_port = int(probe.get("port") or port)
    if kind == "http":
        url = shlex.quote(f"http://{host}:{target_port}{probe.get('path', '/')}")
        test: tuple[str, ...] = ("CMD-SHELL", f"wget -q -O /dev/null {url} || exit 1")
    elif kind == "tcp":
        test = ("CMD-SHELL", f"nc -z {shlex.quote(host)} {target_port} || exit 1")
    elif kind == "command" and probe.get("command"):
        args = [str(a).replace("{port}", str(port)).replace("{host}", host) for a in probe["command"]]
        test = ("CMD", *args)
    else:
        return None
    return Healthcheck(
        test=test,
        interval=float(probe.get("interval_s", 1.0)),
        timeout=float(probe.get("timeout_s", 1.0)),
        retries=max(int(probe.get("failure_threshold", 3)), 1),
        start_period=max(float(probe.get("initial_delay_s", 0.0)), 0.0),
    )


def escape(value: str) -> str:
    """`value` protected from compose's `${VAR}` interpolation."""
    return value.replace("$", "$$")


def compose_duration(seconds: float) -> str:
    """A compose duration: whole seconds as `2s`, else milliseconds (`250ms`, at least `1ms`)."""
    ms = max(round(seconds * 1000), 1)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def healthcheck_fields(check: Healthcheck, duration: Callable[[float], Any]) -> dict[str, Any]:
    """The fields of a healthcheck (`test`, `interval`, `timeout`, `retries`, and `start_period` unless it is
    zero), each duration written by `duration` (seconds in)."""
    out: dict[str, Any] = {
        "test": list(check.test),
        "interval": duration(check.interval),
        "timeout": duration(check.timeout),
        "retries": check.retries,
    }
    if check.start_period > 0:
        out["start_period"] = duration(check.start_period)
    return out


def compose_healthcheck(check: Healthcheck) -> dict[str, Any]:
    """A healthcheck in compose-file form (the test's arguments escaped)."""
    out = healthcheck_fields(check, compose_duration)
    out["test"] = [check.test[0], *(escape(a) for a in check.test[1:])]
    return out


def compose_service(definition: ServiceDefinition, secret: Callable[[str, SecretRef], str]) -> dict[str, Any]:
    """The compose-file keys every format shares: image, command, environment and healthcheck.

    `secret(name, ref)` is the text a secret env entry is written as (an interpolation, never a value).
    """
    environment = {
        name: secret(name, value) if isinstance(value, SecretRef) else escape(value)
        for name, value in definition.env
    }
    out: dict[str, Any] = {"image": escape(definition.image)}
    if definition.command:
        out["command"] = [escape(arg) for arg in definition.command]
    out["environment"] = environment
    if definition.healthcheck is not None:
        out["healthcheck"] = compose_healthcheck(definition.healthcheck)
    return out
