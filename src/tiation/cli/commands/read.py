"""Read-only commands: status, history, why, logs, audit. Each has --json."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from tiation.cli.context import AppContext
from tiation.cli.output import Output
from tiation.errors import TiationError, UsageError
from tiation.redact import redact

if TYPE_CHECKING:
    from tiation.state.rows import DeploymentRow
    from tiation.targets.base import Observed


def _ts(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _envs(app: AppContext, environment: str | None) -> list[str]:
    platform = app.loaded().core
    if environment is None:
        return sorted(platform.environments)
    platform.require_environment(environment)
    return [environment]


EXIT_UNKNOWN = 3
"""`status` exit code when some environment could not be observed: its rows say `unreachable (reason)`."""


@click.command()
@click.argument("environment", required=False)
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def status(app: AppContext, environment: str | None, json_mode: bool) -> int:
    """What serves in each environment, and how its last deploy went.

    An environment that cannot be observed (no kubeconfig, Docker engine down …) is shown as
    `unreachable (reason)`; the others are shown normally and the exit code is 3 (something was unknown).
    """
    out = Output(json_mode=json_mode)
    envs = _envs(app, environment)
    services = sorted(app.loaded().core.services)
    latest = _latest_deployments(app, [(env, svc) for env in envs for svc in services])
    rows: list[dict[str, Any]] = []
    unreachable: dict[str, str] = {}
    for env in envs:
        seen, reason = _observe_env(app, env, services)
        if reason is not None:
            unreachable[env] = reason
        rows.extend(
            _status_row(env, svc, seen.get(svc), latest[(env, svc)], unreachable=reason) for svc in services
        )
    out.data({"services": rows, "unreachable": unreachable})
    out.table(
        ["env", "service", "version", "state", "endpoint", "restarts", "last deploy"],
        [
            [
                r["environment"],
                r["service"],
                r["version"] or "-",
                r["state"],
                r["endpoint"] or "-",
                r["restarts"],
                (
                    f"{r['last_deploy']['kind']} {r['last_deploy']['version']} {r['last_deploy']['status']}"
                    if r["last_deploy"]
                    else "-"
                ),
            ]
            for r in rows
        ],
    )
    return EXIT_UNKNOWN if unreachable or any(r["state"] == "unknown" for r in rows) else 0


def _observe_env(app: AppContext, env: str, services: list[str]) -> tuple[dict[str, Observed], str | None]:
    """What the environment's target sees of each service, or why it could not be asked (one line)."""
    from tiation.deploy.targets import make_target

    try:
        target = make_target(app.loaded(), env, app.clock)
        return {svc: target.observe(svc) for svc in services}, None
    except (TiationError, OSError) as exc:
        return {}, redact(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__


def _latest_deployments(
    app: AppContext, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], DeploymentRow | None]:
    """The newest deployment of each (environment, service): the stdlib fast path, else the store."""
    from tiation.state.quick import latest_deployments

    latest = latest_deployments(app.state_location(), pairs)
    if latest is not None:
        return latest
    # not the default SQLite store, or not migrated yet: ask the store itself
    with app.store().read("list deployments") as uow:
        found = {
            pair: uow.deployments.recent(environment=pair[0], service=pair[1], limit=1) for pair in pairs
        }
    return {pair: deps[0] if deps else None for pair, deps in found.items()}


def _status_row(
    env: str, svc: str, seen: Observed | None, last: DeploymentRow | None, *, unreachable: str | None = None
) -> dict[str, Any]:
    serving = seen.serving if seen else None
    if unreachable is not None:
        state = f"unreachable ({unreachable})"
    elif seen is not None and seen.proxy_down:
        state = "down"  # the instance runs, but nothing forwards the service's port to it
    else:
        state = serving.state if serving else "not running"
    return {
        "environment": env,
        "service": svc,
        "version": serving.version if serving else None,
        "state": state,
        "unreachable": unreachable,
        "endpoint": f"{seen.public.host}:{seen.public.port}" if seen and seen.public and serving else None,
        "restarts": serving.restarts if serving else 0,
        "since": serving.started_at.isoformat() if serving and serving.started_at else None,
        "last_deploy": (
            {
                "id": last.id,
                "version": last.version,
                "kind": last.kind,
                "status": last.status,
                "at": last.started_at.isoformat(),
            }
            if last
            else None
        ),
    }


@click.command()
@click.argument("environment")
@click.argument("service", required=False)
@click.option("--limit", default=50, show_default=True, help="How many deployments to show.")
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def history(app: AppContext, environment: str, service: str | None, limit: int, json_mode: bool) -> None:
    """Deployments in ENVIRONMENT (of SERVICE), newest first."""
    out = Output(json_mode=json_mode)
    _envs(app, environment)
    if service is not None:
        app.loaded().core.require_service(service)
    with app.store().read("list deployments") as uow:
        deps = uow.deployments.recent(environment=environment, service=service, limit=limit)
    out.data({"deployments": [_dep_dict(d) for d in deps]})
    if not deps:
        out.line(f"no deployments in {environment}" + (f" for {service}" if service else ""))
        return
    out.table(
        ["id", "started", "service", "kind", "version", "status", "actor", "verdict"],
        [
            [d.id, _ts(d.started_at), d.service, d.kind, d.version, d.status, d.actor, (d.verdict or "")[:70]]
            for d in deps
        ],
    )


def _dep_dict(d: Any) -> dict[str, Any]:
    return {
        "id": d.id,
        "environment": d.environment,
        "service": d.service,
        "version": d.version,
        "digest": d.digest,
        "kind": d.kind,
        "status": d.status,
        "verdict": d.verdict,
        "actor": d.actor,
        "parent_id": d.parent_id,
        "started_at": d.started_at.isoformat() if d.started_at else None,
        "finished_at": d.finished_at.isoformat() if d.finished_at else None,
    }


@click.command()
@click.argument("deployment_id")
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def why(app: AppContext, deployment_id: str, json_mode: bool) -> None:
    """The verdict of a deployment, with its evidence: events, exit codes, probe results, last log lines."""
    out = Output(json_mode=json_mode)
    with app.store().read("read a deployment") as uow:
        dep = uow.deployments.get(deployment_id)
        if dep is None:
            raise UsageError(f"no deployment {deployment_id!r}")
        recent = uow.deployments.recent(environment=dep.environment, service=dep.service, limit=200)
    children = [d for d in recent if d.parent_id == dep.id]
    out.data({**_dep_dict(dep), "evidence": dep.evidence, "followed_by": [_dep_dict(c) for c in children]})
    out.line(
        f"deployment {dep.id}: {dep.kind} {dep.service} {dep.version} to {dep.environment} by {dep.actor}"
    )
    out.line(f"status: {dep.status}   started {_ts(dep.started_at)}   finished {_ts(dep.finished_at)}")
    out.line(f"verdict: {dep.verdict or '-'}")
    ev = dep.evidence or {}
    if ev.get("elapsed_s") is not None:
        out.line(f"decided after {ev['elapsed_s']}s")
    for e in ev.get("events", []):
        code = f" (exit code {e['exit_code']})" if e.get("exit_code") is not None else ""
        out.line(f"  event {e['at'][11:23]} {e['kind']}{code} {e.get('detail') or ''}".rstrip())
    for name, results in ev.get("probes", {}).items():
        for r in results:
            out.line(
                f"  probe {name}: {'ok' if r['ok'] else 'FAIL'} {r['detail']} ({r['latency'] * 1000:.0f} ms)"
            )
    if ev.get("log_tail"):
        out.line("  last log lines:")
        for line in ev["log_tail"]:
            out.line(f"    {line}")
    for c in children:
        out.line(f"then: {c.kind} {c.version} [{c.id}] {c.status}: {c.verdict or ''}")


@click.command()
@click.argument("environment")
@click.argument("service")
@click.option("--lines", "-n", default=50, show_default=True)
@click.pass_obj
def logs(app: AppContext, environment: str, service: str, lines: int) -> None:
    """The last log lines of SERVICE's serving instance in ENVIRONMENT."""
    from tiation.deploy.targets import make_target

    _envs(app, environment)
    app.loaded().core.require_service(service)
    out = Output()
    for line in make_target(app.loaded(), environment, app.clock).logs(service, lines=lines):
        out.line(line)


@click.command()
@click.option("--deployment", "deployment_id", help="Only events of this deployment.")
@click.option("--limit", default=200, show_default=True)
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def audit(app: AppContext, deployment_id: str | None, limit: int, json_mode: bool) -> None:
    """The audit log, oldest first."""
    out = Output(json_mode=json_mode)
    with app.store().read("read the audit log") as uow:
        rows = uow.audit.events(deployment_id=deployment_id, limit=limit)
    out.data(
        {
            "events": [
                {
                    "id": r.id,
                    "at": r.at.isoformat(),
                    "actor": r.actor,
                    "action": r.action,
                    "environment": r.environment,
                    "service": r.service,
                    "deployment_id": r.deployment_id,
                    "details": r.details,
                }
                for r in rows
            ]
        }
    )
    out.table(
        ["at", "actor", "action", "env", "service", "deployment"],
        [
            [_ts(r.at), r.actor, r.action, r.environment or "", r.service or "", r.deployment_id or ""]
            for r in rows
        ],
    )
