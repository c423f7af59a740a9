"""Build the `Release` of a service version from the platform file (pure)."""

from __future__ import annotations

from pathlib import Path

from tiation.config.models import Platform
from tiation.errors import UsageError
from tiation.targets.base import Release


def resolve_version(platform: Platform, service: str, version: str | None) -> str:
    """The version to deploy: the one given, else the service's `default_version`."""
    if version:
        return version
    default = platform.services[service].default_version
    if default is None:
        raise UsageError(
            f"no version given for {service}, and services.{service}.default_version is not set",
        )
    return default


def build_release(platform: Platform, root: Path, environment: str, service: str, version: str) -> Release:
    """The release bundle for `service` at `version` in `environment`: command, env, config, port."""
    spec = platform.service_in(environment, service)
    # The loader guarantees `local:` for every environment on the local target; other targets ignore it.
    run = spec.local
    command = tuple(arg.replace("{version}", version) for arg in run.command) if run else ()
    cwd_path = str((root / run.cwd).resolve()) if run and run.cwd else str(root)
    config = {name: content.replace("{version}", version) for name, content in spec.config.items()}
    return Release(
        environment=environment,
        service=service,
        version=version,
        command=command,
        port=spec.port,
        env=dict(spec.env),
        config=config,
        cwd=cwd_path,
        stop_timeout=run.stop_timeout.total_seconds() if run else 10.0,
    )
