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


GLOBAL_OPTIONS = frozenset({"-f", "--file", "--state", "--as"})
"""The group's options that take a value; they are accepted after the subcommand too (`status -f x.yaml`)."""


def hoist_global_options(args: list[str]) -> list[str]:
    """`args` with every group option written after the subcommand moved in front of it.

    Like `docker compose` and `kubectl`, `tiation deploy local all --state URL` means
    `tiation --state URL deploy local all`. Only options the group owns move (none of them is also a
    subcommand option); an option written after the subcommand wins over one before it, and nothing after
    `--` moves.
    """
    front: list[str] = []
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":
        takes_value = args[i] in GLOBAL_OPTIONS
        front.extend(args[i : i + 1 + takes_value])
        i += 1 + takes_value
    hoisted: list[str] = []
    rest: list[str] = []
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg[:2]
        if name in GLOBAL_OPTIONS and arg != name:  # --state=URL, -fFILE
            hoisted.append(arg)
        elif arg in GLOBAL_OPTIONS and i + 1 < len(args):
            hoisted.extend(args[i : i + 2])
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + hoisted + rest


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

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
