"""Commands that change what runs: deploy, rollback, approve, stop."""

from __future__ import annotations

import sys
from typing import Any

import click

from tiation.cli.context import AppContext
from tiation.cli.output import Output, error_line, plural, progress_reporter
from tiation.deploy.lease import held_lease


def _outcome_exit(outcomes: list[Any]) -> int:
    return 0 if all(o.status in ("succeeded", "noop") for o in outcomes) else 1


def _print_plan(out: Output, plan: Any, *, dry_run: bool) -> None:
    """One line per step and reason. A blocked step's reasons are errors (stderr) unless this is a dry run."""
    for step in plan.steps:
        mark = {"deploy": "+", "noop": "=", "blocked": "!"}[step.action]
        if step.action == "blocked" and not dry_run:
            out.line(f"{mark} {step.service}: blocked")
            continue
        for reason in step.reasons:
            out.line(f"{mark} {step.service}: {step.action} — {reason}")


@click.command()
@click.argument("environment")
@click.argument("service")
@click.argument("version", required=False)
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option(
    "--yes", "-y", is_flag=True, help="Do not ask for confirmation (environments that require approval)."
)
@click.option("--force", is_flag=True, help="Deploy even if the release is quarantined or already serving.")
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def deploy(
    app: AppContext,
    environment: str,
    service: str,
    version: str | None,
    dry_run: bool,
    yes: bool,
    force: bool,
    json_mode: bool,
) -> int:
    """Deploy SERVICE (or `all`, in dependency order) at VERSION to ENVIRONMENT, verify it, keep or roll back."""
    out = Output(json_mode=json_mode)
    engine = app.engine(progress_reporter(out))
    plan = engine.plan(environment, service, version, force=force)
    _print_plan(out, plan, dry_run=dry_run)
    if dry_run:
        out.data({"dry_run": True, "plan": plan.to_dict()})
        out.line("dry run: nothing changed")
        return 0
    if plan.blocked:
        out.data({"plan": plan.to_dict(), "outcomes": []})
        for step in plan.blocked:
            for reason in step.reasons:
                error_line(f"{step.service}: {reason}")
        return 1
    env = engine.loaded.platform.environments[environment]
    if plan.changes and env.approval == "required" and not yes:
        if not sys.stdin.isatty():
            from tiation.errors import UsageError

            raise UsageError(f"{environment} requires confirmation: pass --yes to deploy non-interactively")
        click.confirm(f"Deploy {plural(len(plan.changes), 'change')} to {environment}?", abort=True)
    outcomes = engine.deploy(plan)
    out.data({"plan": plan.to_dict(), "outcomes": [o.to_dict() for o in outcomes]})
    for o in outcomes:
        if o.status == "failed":
            back = f"; rolled back to {o.rolled_back_to}" if o.rolled_back_to else "; nothing to roll back to"
            out.line(
                f"{o.service}: deploy {o.version} failed ({o.verdict}){back}. See: tiation why {o.deployment_id}"
            )
    return _outcome_exit(outcomes)


@click.command()
@click.argument("environment")
@click.argument("service")
@click.option(
    "--to", "to_version", metavar="VERSION", help="Version to go back to (default: last known-good)."
)
@click.option("--force", is_flag=True, help="Allow a quarantined release.")
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def rollback(
    app: AppContext, environment: str, service: str, to_version: str | None, force: bool, json_mode: bool
) -> int:
    """Roll SERVICE back to the newest known-good release other than the one serving (or --to VERSION)."""
    out = Output(json_mode=json_mode)
    outcome = app.engine(progress_reporter(out)).rollback(
        environment, service, to_version=to_version, force=force
    )
    out.data(outcome.to_dict())
    if outcome.status != "succeeded":
        out.line(
            f"rollback of {service} to {outcome.version} failed: {outcome.verdict}; the serving version is unchanged"
        )
        return 1
    return 0


@click.command()
@click.argument("environment")
@click.argument("service")
@click.argument("version")
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def approve(app: AppContext, environment: str, service: str, version: str, json_mode: bool) -> None:
    """Approve deploying SERVICE VERSION to ENVIRONMENT (bound to its release digest; someone else deploys)."""
    out = Output(json_mode=json_mode)
    row = app.engine().approve(environment, service, version)
    out.data(
        {
            "id": row.id,
            "environment": environment,
            "service": service,
            "version": version,
            "digest": row.digest,
            "actor": row.actor,
            "expires_at": row.expires_at.isoformat(),
        }
    )
    out.line(
        f"approved {service} {version} for {environment} by {row.actor} "
        f"(release {row.digest[:19]}…, expires {row.expires_at:%Y-%m-%d %H:%M}Z)"
    )


@click.command()
@click.argument("environment")
@click.argument("service", required=False)
@click.pass_obj
def stop(app: AppContext, environment: str, service: str | None) -> None:
    """Stop SERVICE (or every service) in ENVIRONMENT."""
    engine = app.engine()
    platform = engine.loaded.platform
    platform.require_environment(environment)
    if service:
        platform.require_service(service)
    services = [service] if service else sorted(platform.services)
    target = engine.targets(environment)
    out = Output()
    ttl = platform.environments[environment].lease_ttl.total_seconds()
    for svc in services:
        # a stop during a deploy would leave that deploy reporting success while nothing serves
        with held_lease(engine.store, environment, svc, actor=engine.actor, reason=f"stop {svc}", ttl=ttl):
            target.stop(svc)
            with engine.store.write("write the audit log") as uow:
                uow.audit.record(
                    actor=engine.actor, action="service.stop", environment=environment, service=svc
                )
        out.line(f"stopped {svc} in {environment}")
