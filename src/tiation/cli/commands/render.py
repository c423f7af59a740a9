"""`tiation render …`: the platform file as configuration for other tools (Prometheus, Alertmanager, …).

Each subcommand renders with a pure function of the platform file, then writes the files atomically and only
when their bytes change; the output lists every file (wrote / unchanged / removed). New targets (`kubernetes`,
`compose`) are further subcommands that return `RenderedFile`s and call `_write_and_report`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from tiation.cli.context import AppContext
from tiation.cli.output import Output
from tiation.errors import UsageError

_OUT = click.option(
    "--out",
    "out_dir",
    required=True,
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write into (created if missing).",
)
_JSON = click.option("--json", "json_mode", is_flag=True, help="Print a summary of what was written as JSON.")


@click.group()
def render() -> None:
    """Render the platform file into what other tools read. Same input, byte-identical output."""


def _write_and_report(
    out: Output,
    kind: str,
    out_dir: Path,
    files: Sequence[Any],
    *,
    marker: str = "",
    suffixes: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
) -> None:
    from tiation.render.files import write_files

    written, removed = write_files(out_dir, files, marker=marker, suffixes=suffixes)
    out.data(
        {
            "kind": kind,
            "out": str(out_dir),
            "files": [
                {
                    "path": str(w.path),
                    "role": w.file.role,
                    "group": w.file.group,
                    "changed": w.changed,
                    "sha256": w.file.sha256,
                }
                for w in written
            ],
            "removed": [str(p) for p in removed],
            **(extra or {}),
        }
    )
    for w in written:
        out.line(f"{'wrote' if w.changed else 'unchanged'} {w.path}")
    for path in removed:
        out.line(f"removed {path} (no longer rendered)")


@render.command("prometheus")
@_OUT
@_JSON
@click.pass_obj
def prometheus(app: AppContext, out_dir: Path, json_mode: bool) -> None:
    """Prometheus rule files from alerting.rules, one per group, each with a `promtool test rules` file."""
    from tiation.render.prometheus import MARKER, RULES_SUFFIX, TESTS_SUFFIX, render_prometheus

    out = Output(json_mode=json_mode)
    loaded = app.loaded()
    groups = loaded.platform.alerting.rules
    result = render_prometheus(groups, source=loaded.path.name)
    untested = [{"group": u.group, "alert": u.alert, "reason": u.reason} for u in result.untested]
    _write_and_report(
        out,
        "prometheus",
        out_dir,
        result.files,
        marker=MARKER,
        suffixes=(RULES_SUFFIX, TESTS_SUFFIX),
        extra={
            "groups": len(groups),
            "rules": sum(len(g.rules) for g in groups),
            "generated_tests": result.generated_tests,
            "explicit_tests": result.explicit_tests,
            "untested": untested,
        },
    )
    if not groups:
        out.line("alerting.rules is empty: no rule files")
        return
    rules = sum(len(g.rules) for g in groups)
    out.line(
        f"{len(groups)} groups, {rules} rules: {result.generated_tests} generated tests, "
        f"{result.explicit_tests} from tests:"
    )
    for u in result.untested:
        out.line(f"! no test for {u.group}/{u.alert}: {u.reason} (give the rule tests:)", style="yellow")
    out.line(
        f"check: promtool check rules {out_dir}/*{RULES_SUFFIX} && promtool test rules {out_dir}/*{TESTS_SUFFIX}"
    )


@render.command("alertmanager")
@_OUT
@click.option(
    "--webhook-url",
    metavar="URL",
    help="tiation's base URL (default: server.public_url or http://host:port); /api/v1/intake/alertmanager "
    "is appended unless the URL already ends with it.",
)
@click.option(
    "--token-file",
    metavar="PATH",
    help="File Alertmanager reads the intake bearer token from (default: alertmanager.token beside the config).",
)
@click.option("--group-wait", default="1s", show_default=True, metavar="DURATION")
@click.option("--group-interval", default="5s", show_default=True, metavar="DURATION")
@click.option("--repeat-interval", default="1h", show_default=True, metavar="DURATION")
@_JSON
@click.pass_obj
def alertmanager(
    app: AppContext,
    out_dir: Path,
    webhook_url: str | None,
    token_file: str | None,
    group_wait: str,
    group_interval: str,
    repeat_interval: str,
    json_mode: bool,
) -> None:
    """An Alertmanager config whose only receiver is tiation's webhook (bearer token from a file)."""
    from tiation.render.alertmanager import (
        DEFAULT_TOKEN_FILE,
        AlertmanagerSettings,
        intake_url,
        render_alertmanager,
    )
    from tiation.render.alertmanager import (
        webhook_url as receiver_url,
    )

    out = Output(json_mode=json_mode)
    loaded = app.loaded()
    url = receiver_url(webhook_url) if webhook_url else intake_url(loaded.platform.server.base_url)
    token = str(Path(token_file).expanduser().absolute()) if token_file else DEFAULT_TOKEN_FILE
    settings = AlertmanagerSettings(
        webhook_url=url,
        token_file=token,
        group_wait=_duration("--group-wait", group_wait),
        group_interval=_duration("--group-interval", group_interval),
        repeat_interval=_duration("--repeat-interval", repeat_interval),
    )
    file = render_alertmanager(settings, source=loaded.path.name)
    token_path = out_dir / token if not Path(token).is_absolute() else Path(token)
    extra = {"webhook_url": url, "token_file": str(token_path), "token_file_exists": token_path.is_file()}
    _write_and_report(out, "alertmanager", out_dir, [file], extra=extra)
    out.line(f"receiver: {url} (bearer token read from {token_path})")
    if not token_path.is_file():
        out.line(
            f"! {token_path} does not exist yet: put the intake token there (its SHA-256 goes in "
            "alerting.intake.alertmanager.tokens_sha256)",
            style="yellow",
        )
    out.line(f"check: amtool check-config {out_dir / file.name}")


_VERSIONS = click.option(
    "--version",
    "version_pairs",
    multiple=True,
    metavar="SERVICE=VERSION",
    help="Version to render for a service (repeatable); default: the service's default_version.",
)


@render.command("kubernetes")
@_OUT
@_VERSIONS
@_JSON
@click.pass_obj
def kubernetes(app: AppContext, out_dir: Path, version_pairs: tuple[str, ...], json_mode: bool) -> None:
    """A Kustomize tree: base/<service>/ (Deployment, Service, ConfigMap, PDB, NetworkPolicy), RBAC, overlays."""
    from tiation.render.kubernetes import KUSTOMIZATION, MARKER, render_kubernetes

    out = Output(json_mode=json_mode)
    loaded = app.loaded()
    result = render_kubernetes(
        loaded.platform, loaded.root, versions=_version_pairs(version_pairs), source=loaded.path.name
    )
    removed = _prepare_tree(out_dir, result.files, MARKER, ".yaml")
    extra = {
        "namespaces": result.namespaces,
        "versions": result.versions,
        "removed": [str(p) for p in removed],
    }
    _write_and_report(out, "kubernetes", out_dir, result.files, extra=extra)
    for path in removed:
        out.line(f"removed {path} (no longer rendered)")
    for env, namespace in result.namespaces.items():
        out.line(f"overlay {env}: namespace {namespace}")
    out.line(f"check: kubectl kustomize {out_dir}/overlays/ENV (each overlay's {KUSTOMIZATION})")


@render.command("compose")
@_OUT
@_VERSIONS
@_JSON
@click.pass_obj
def compose(app: AppContext, out_dir: Path, version_pairs: tuple[str, ...], json_mode: bool) -> None:
    """docker-compose.<env>.yml per environment, with the services' config files under config/<service>/."""
    from tiation.render.compose import MARKER, PREFIX, SUFFIX, render_compose

    out = Output(json_mode=json_mode)
    loaded = app.loaded()
    result = render_compose(
        loaded.platform, loaded.root, versions=_version_pairs(version_pairs), source=loaded.path.name
    )
    _prepare_tree(out_dir, result.files, "", "")
    extra = {"variables": result.variables, "versions": result.versions}
    _write_and_report(out, "compose", out_dir, result.files, marker=MARKER, suffixes=(SUFFIX,), extra=extra)
    for env, names in result.variables.items():
        if names:
            out.line(f"{env}: set {', '.join(names)} before running docker-compose (secret references)")
    out.line(f"check: docker-compose -f {out_dir}/{PREFIX}ENV{SUFFIX} config")


def _version_pairs(pairs: Sequence[str]) -> dict[str, str]:
    versions: dict[str, str] = {}
    for pair in pairs:
        service, sep, version = pair.partition("=")
        if not sep or not service or not version:
            raise UsageError(f"--version: expected SERVICE=VERSION, got {pair!r}")
        versions[service] = version
    return versions


def _prepare_tree(out_dir: Path, files: Sequence[Any], marker: str, suffix: str) -> list[Path]:
    """Create the directories `files` go in; with a marker, remove files an earlier render left in subdirectories.

    `write_files` handles the top level only, so a render into subdirectories (base/, overlays/) removes its own
    stale files here: those ending in `suffix` whose first line holds `marker` that are no longer rendered.
    """
    from tiation.errors import TiationError

    keep = {out_dir / f.name for f in files}
    removed: list[Path] = []
    if marker and out_dir.is_dir():
        for path in sorted(p for p in out_dir.rglob(f"*{suffix}") if p.parent != out_dir and p.is_file()):
            if path in keep:
                continue
            with path.open(encoding="utf-8", errors="replace") as fh:
                if marker in fh.readline():
                    path.unlink()
                    removed.append(path)
        for directory in sorted({p.parent for p in removed}, key=lambda d: len(d.parts), reverse=True):
            while directory != out_dir and not any(
                directory.iterdir()
            ):  # a removed service's empty directory
                directory.rmdir()
                directory = directory.parent
    try:
        for directory in sorted({p.parent for p in keep}):
            directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TiationError(f"cannot create {exc.filename}: {exc.strerror or exc}") from None
    return removed


def _duration(option: str, text: str) -> timedelta:
    from tiation.config.durations import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None
    if value <= timedelta(0):
        raise UsageError(f"{option}: must be longer than 0s")
    return value
