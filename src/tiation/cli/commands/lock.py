"""`tiation lock list|release`: inspect and break deploy leases."""

from __future__ import annotations

import click

from tiation.cli.context import AppContext
from tiation.cli.output import Output
from tiation.errors import UsageError


@click.group()
def lock() -> None:
    """Deploy leases: one per (environment, service)."""


@lock.command("list")
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def list_(app: AppContext, json_mode: bool) -> None:
    """Every lease, live or expired."""
    out = Output(json_mode=json_mode)
    with app.store().read("list leases") as uow:
        leases = uow.leases.all()
    out.data(
        {
            "leases": [
                {
                    "environment": lease.environment,
                    "service": lease.service,
                    "owner": lease.owner,
                    "reason": lease.reason,
                    "acquired_at": lease.acquired_at.isoformat(),
                    "expires_at": lease.expires_at.isoformat(),
                    "expired": lease.expired,
                    "dead": lease.dead or None,
                }
                for lease in leases
            ]
        }
    )
    if not leases:
        out.line("no leases")
        return
    out.table(
        ["env", "service", "owner", "reason", "since", "expires", "state"],
        [
            [
                lease.environment,
                lease.service,
                lease.owner,
                lease.reason,
                f"{lease.acquired_at:%H:%M:%S}",
                f"{lease.expires_at:%H:%M:%S}",
                f"dead ({lease.dead})" if lease.dead else "expired" if lease.expired else "held",
            ]
            for lease in leases
        ],
    )


@lock.command("release")
@click.argument("environment")
@click.argument("service")
@click.option("--force", is_flag=True, help="Required: breaking a lease is audited.")
@click.pass_obj
def release(app: AppContext, environment: str, service: str, force: bool) -> None:
    """Break the lease on ENVIRONMENT SERVICE (audited)."""
    if not force:
        raise UsageError("breaking a lease needs --force (the holder may still be running)")
    with app.store().write("force-release a lease") as uow:
        lease = uow.leases.force_release(environment, service, actor=app.who())
    out = Output()
    if lease is None:
        out.line(f"no lease on {environment}/{service}")
    else:
        out.line(f"released {environment}/{service} (was held by {lease.owner} for {lease.reason})")
