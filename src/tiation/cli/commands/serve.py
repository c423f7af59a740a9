"""`tiation serve`: run the HTTP server (alert intake, health, metrics, OpenAPI); `serve token` makes a token."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from secrets import token_urlsafe
from typing import TYPE_CHECKING

import click

from tiation.cli.context import AppContext
from tiation.cli.output import Output

if TYPE_CHECKING:
    from fastapi import APIRouter
    from prometheus_client import CollectorRegistry

    from tiation.server.app import Background
    from tiation.server.committer import Ingestor

log = logging.getLogger("tiation.server")


def build(app: AppContext) -> tuple[Ingestor, Sequence[Background], Sequence[APIRouter], CollectorRegistry]:
    """The alert engine behind the intake, the background services, the management routes and the metrics
    registry (with the state store's gauges)."""
    from tiation.server.runtime import build_runtime

    loaded = app.loaded()
    runtime = build_runtime(loaded.platform, loaded.root, app.store(), app.clock)
    return runtime.service, runtime.services, runtime.routers, runtime.registry


@click.group(invoke_without_command=True)
@click.option("--host", metavar="ADDR", help="Listen address (default: server.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Listen port (default: server.port, 8080).")
@click.option("--no-access-log", is_flag=True, help="Do not log a line per request.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, no_access_log: bool) -> None:
    """Run the HTTP server: alert intake, /healthz, /metrics, OpenAPI at /docs (stop with SIGTERM or Ctrl-C)."""
    if ctx.invoked_subcommand is not None:
        return
    from tiation.server.app import create_app
    from tiation.server.run import configure_logging, listen
    from tiation.server.run import serve as run_server

    app: AppContext = ctx.obj
    platform = app.loaded().platform
    configure_logging(access_log=not no_access_log)
    ingestor, services, routers, registry = build(app)
    asgi = create_app(
        platform.alerting.intake,
        ingestor,
        services=services,
        routers=routers,
        registry=registry,
        clock=app.clock,
    )
    bind_host = host or platform.server.host
    bind_port = port or platform.server.port
    sock = listen(bind_host, bind_port)  # a busy port fails here: one line, before anything starts
    intakes = ", ".join(sorted(platform.alerting.intake)) or "none configured"
    log.info("serving on http://%s:%d (intakes: %s)", bind_host, bind_port, intakes)
    run_server(asgi, bind_host, bind_port, trusted_proxies=platform.server.trusted_proxies, sock=sock)
    log.info("stopped")


@serve.command("token")
@click.option("--json", "json_mode", is_flag=True, help="Print the token and its digest as JSON.")
def token(json_mode: bool) -> None:
    """Print a new random intake token and the SHA-256 line for the platform file (only the digest is stored)."""
    from tiation.server.auth import token_digest

    out = Output(json_mode=json_mode)
    value = token_urlsafe(32)
    digest = token_digest(value)
    out.data({"token": value, "sha256": digest})
    out.line(value)
    out.line(
        "  ^ give this to the sender as 'Authorization: Bearer <it>'; it is not stored and not shown again"
    )
    out.line("add its digest under alerting.intake.<kind> in the platform file:")
    out.line("    tokens_sha256:")
    out.line(f'      - "{digest}"')
