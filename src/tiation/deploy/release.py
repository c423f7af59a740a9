"""Build the `Release` of a service version from the platform file (pure)."""

from __future__ import annotations

from pathlib import Path

from tiation.config.models import Platform, Probe, Service
from tiation.errors import UsageError
from tiation.targets.base import Release
from tiation.targets.probes import ProbeSpec, Workload, probe_from_dict


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
    # Container targets run the image's own command; `local:` is how the local target starts a process.
    container = platform.environments[environment].traits.containers
    run = None if container else spec.local
    command = tuple(arg.replace("{version}", version) for arg in run.command) if run else ()
    cwd_path = None if container else str((root / run.cwd).resolve()) if run and run.cwd else str(root)
    config = {name: content.replace("{version}", version) for name, content in spec.config.items()}
    image = spec.image.replace("{version}", version) if spec.image else None
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
        image=image,
        replicas=spec.replicas,
        workload=workload_of(spec) if image else Workload(),
    )


def workload_of(spec: Service) -> Workload:
    """The container settings of a service: typed probe specs, resources, Secrets read as env, deadline."""
    return Workload(
        probes=tuple(probe_spec(p) for p in spec.health.probes),
        resources=spec.resources.model_dump(exclude_none=True),
        env_secrets=tuple(spec.env_secrets),
        deadline_s=spec.health.deadline.total_seconds(),
    )


def probe_spec(probe: Probe) -> ProbeSpec:
    """The release's record of a probe: its timing and what its check kind records (`release_fields`)."""
    return probe_from_dict(
        {
            "name": probe.label,
            "kind": probe.kind,
            "interval_s": probe.interval.total_seconds(),
            "timeout_s": probe.timeout.total_seconds(),
            "initial_delay_s": probe.initial_delay.total_seconds(),
            "success_threshold": probe.success_threshold,
            "failure_threshold": probe.failure_threshold,
            **probe.check.release_fields(),
        }
    )
