"""Read-only commands: status, history, why, logs, audit. Each has --json."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from tiation.cli.context import AppContext
from tiation.cli.output import Output
from tiation.errors import UsageError

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


@click.command()
@click.argument("environment", required=False)
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def status(app: AppContext, environment: str | None, json_mode: bool) -> None:
    """What serves in each environment, and how its last deploy went."""
    from tiation.deploy.targets import make_target

    out = Output(json_mode=json_mode)
    loaded = app.loaded()
    envs = _envs(app, environment)
    services = sorted(loaded.core.services)
    latest = _latest_deployments(app, [(env, svc) for env in envs for svc in services])
    rows: list[dict[str, Any]] = []
    for env in envs:
        target = make_target(loaded, env, app.clock)
        rows.extend(_status_row(env, svc, target.observe(svc), latest[(env, svc)]) for svc in services)
    out.data({"services": rows})
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


def _status_row(env: str, svc: str, seen: Observed, last: DeploymentRow | None) -> dict[str, Any]:
    serving = seen.serving
    return {
        "environment": env,
        "service": svc,
        "version": serving.version if serving else None,
        "state": serving.state if serving else "not running",
        "endpoint": f"{seen.public.host}:{seen.public.port}" if seen.public and serving else None,
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
