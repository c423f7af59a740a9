"""The `tiation` command group (Click). Subcommands are imported only when run."""

from __future__ import annotations

import importlib

import click

from tiation import __version__

# command name -> "module:attribute" under tiation.cli.commands
COMMANDS = {
    "validate": "validate:validate",
    "deploy": "deploy:deploy",
    "rollback": "deploy:rollback",
    "approve": "deploy:approve",
    "status": "read:status",
    "history": "read:history",
    "why": "read:why",
    "logs": "read:logs",
    "stop": "deploy:stop",
    "lock": "lock:lock",
    "audit": "read:audit",
    "backup": "backup:backup",
    "render": "render:render",
    "oncall": "oncall:oncall",
    "alerts": "alerts:alerts",
    "serve": "serve:serve",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module, attr = spec.split(":")
        command = getattr(importlib.import_module(f"tiation.cli.commands.{module}"), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tiation")
@click.option(
    "-f", "--file", "file", metavar="PATH", help="Platform file (default: $TIATION_FILE or ./tiation.yaml)."
)
@click.option(
    "--state",
    metavar="URL",
    envvar="TIATION_STATE",
    help="State store URL (default: SQLite beside the file).",
)
@click.option(
    "--as", "actor", metavar="NAME", envvar="TIATION_ACTOR", help="Who is acting (default: the OS user)."
)
@click.pass_context
def cli(ctx: click.Context, file: str | None, state: str | None, actor: str | None) -> None:
    """tiation: health-gated deploys with automatic rollback, and the rest of operations, from one file."""
    from tiation.cli.context import AppContext

    ctx.obj = AppContext(file=file, state_url=state, actor=actor)
    ctx.call_on_close(ctx.obj.close)
