"""`tiation validate`: check the platform file and say what it defines."""

from __future__ import annotations

import click

from tiation.cli.context import AppContext
from tiation.cli.output import Output


@click.command()
@click.option("--json", "json_mode", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def validate(app: AppContext, json_mode: bool) -> None:
    """Check the platform file; every mistake is one line `file:line:col: field: message` (exit code 2)."""
    from tiation.config.summary import summarize

    out = Output(json_mode=json_mode)
    summary = summarize(app.loaded())
    out.data({"valid": True, **summary})
    counts = summary["counts"]
    out.line(
        f"{summary['file']}: valid — project {summary['project']}, {counts['environments']} environments, "
        f"{counts['services']} services, {counts['probes']} probes"
    )
    extras = [
        f"{counts[key]} {label}"
        for key, label in (
            ("backups", "backups"), ("people", "people"), ("schedules", "on-call schedules"),
            ("notifiers", "notifiers"), ("alert_rules", "alert rules"), ("severities", "severities"),
            ("policies", "escalation policies"), ("silences", "silences"),
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
