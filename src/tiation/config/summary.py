"""A JSON-able overview of a loaded platform file (for `tiation config show` and the like)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tiation.config.durations import format_duration
from tiation.config.loader import LoadedPlatform
from tiation.redact import redact
from tiation.secrets import SecretRef


def _env(env: Mapping[str, str | SecretRef]) -> dict[str, str]:
    # Secrets appear as the reference text ("env:NAME"), never resolved; plain values are still redacted in
    # case one holds a credential in a URL.
    return {k: v.ref if isinstance(v, SecretRef) else redact(v) for k, v in env.items()}


def summarize(loaded: LoadedPlatform) -> dict[str, Any]:
    """Project, file, environments, services and objectives as plain JSON-able values."""
    platform = loaded.platform
    environments = [
        {
            "name": name,
            "target": env.target,
            "approval": env.approval,
            "approval_ttl": format_duration(env.approval_ttl),
            "services_overridden": list(env.services),
        }
        for name, env in platform.environments.items()
    ]
    services = [
        {
            "name": name,
            "port": service.port,
            "tier": service.tier,
            "depends_on": list(service.depends_on),
            "replicas": service.replicas,
            "probes": [probe.label for probe in service.health.probes],
            "env": _env(service.env),
            "runs_locally": service.local is not None,
        }
        for name, service in platform.services.items()
    ]
    objectives = {
        tier: {"rto": format_duration(obj.rto), "rpo": format_duration(obj.rpo)}
        for tier, obj in platform.objectives.tiers.items()
    }
    state_url = platform.state.url
    return {
        "project": platform.project.name,
        "description": platform.project.description,
        "file": str(loaded.path),
        "state": state_url.ref if isinstance(state_url, SecretRef) else None,
        "environments": environments,
        "services": services,
        "objectives": objectives,
        "counts": {
            "environments": len(environments),
            "services": len(services),
            "probes": sum(len(s.health.probes) for s in platform.services.values()),
            "backups": len(platform.backups),
            "people": len(platform.people),
            "schedules": len(platform.oncall.schedules),
            "notifiers": len(platform.notifiers),
            "alert_rules": sum(len(g.rules) for g in platform.alerting.rules),
            "severities": len(platform.alerting.severities),
            "policies": len(platform.alerting.policies),
            "silences": len(platform.alerting.silences),
        },
    }
