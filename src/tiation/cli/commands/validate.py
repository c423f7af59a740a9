"""`tiation validate`: check the platform file and say what it defines."""

from __future__ import annotations

from typing import Any

import click

from tiation.cli.context import AppContext
from tiation.cli.output import Output, error_line, plural, warning_line
from tiation.errors import ConfigError, ConfigErrors


@click.command()
@click.option("--json", "json_mode", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def validate(app: AppContext, json_mode: bool) -> None:
    """Check the platform file; every mistake is one line `file:line:col: field: message` (exit code 2).

    All the mistakes are listed in one run (up to 20, in file order); other commands stop at the first.
    Warnings (settings nothing acts on yet) are lines on stderr starting `warning:`; they keep exit code 0.
    """
    from tiation.config.summary import summarize

    try:
        loaded = app.loaded()
    except ConfigError as exc:
        errors, more = (exc.errors, exc.more) if isinstance(exc, ConfigErrors) else ([exc], 0)
        for error in errors:
            error_line(str(error))
        if more:
            error_line(f"… and {plural(more, 'more mistake')} (fix these first)")
        raise click.exceptions.Exit(2) from None
    for warning in unscheduled_backups(loaded):
        warning_line(warning)
    out = Output(json_mode=json_mode)
    summary = summarize(loaded)
    out.data({"valid": True, **summary})
    _print_summary(out, summary)


def unscheduled_backups(loaded: Any) -> list[str]:
    """A warning per backup with a `schedule:`: nothing runs schedules yet (cron `tiation backup run` does)."""
    from tiation.config.loader import parse_yaml
    from tiation.config.positions import walk

    scheduled = [name for name, b in loaded.platform.backups.items() if b.schedule is not None]
    if not scheduled:
        return []
    tree = parse_yaml(loaded.path.read_text(encoding="utf-8-sig"), str(loaded.path))
    warnings = []
    for name in scheduled:
        line, column = walk(tree, ("backups", name, "schedule")).value_pos
        warnings.append(
            f"{loaded.path}:{line}:{column}: backups.{name}.schedule: nothing runs backup schedules yet "
            f"(no scheduler in this release): run `tiation backup run {name}` from cron or a timer"
        )
    return warnings


def _print_summary(out: Output, summary: dict[str, Any]) -> None:
    counts = summary["counts"]
    out.line(
        f"{summary['file']}: valid — project {summary['project']}, "
        f"{plural(counts['environments'], 'environment')}, {plural(counts['services'], 'service')}, "
        f"{plural(counts['probes'], 'probe')}"
    )
    extras = [
        plural(counts[key], word, many)
        for key, word, many in (
            ("backups", "backup", None), ("people", "person", "people"),
            ("schedules", "on-call schedule", None), ("notifiers", "notifier", None),
            ("alert_rules", "alert rule", None), ("severities", "severity", "severities"),
            ("policies", "escalation policy", "escalation policies"), ("silences", "silence", None),
        )
        if counts[key]
    ]  # fmt: skip
    if extras:
        out.line("also: " + ", ".join(extras))
    out.table(
        ["environment", "target", "approval", "overrides"],
        [
            [e["name"], e["target"], e["approval"], ", ".join(e["services_overridden"]) or "-"]
            for e in summary["environments"]
        ],
    )
    out.table(
        ["service", "port", "tier", "depends on", "probes"],
        [
            [s["name"], s["port"], s["tier"], ", ".join(s["depends_on"]) or "-", ", ".join(s["probes"])]
            for s in summary["services"]
        ],
    )
    if summary["objectives"]:
        out.table(
            ["tier", "rto", "rpo"],
            [[tier, o["rto"], o["rpo"]] for tier, o in summary["objectives"].items()],
        )
