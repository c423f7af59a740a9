"""What a newcomer meets in the first hour: global options anywhere, every mistake at once, did-you-mean,
warnings for settings nothing acts on, plurals."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tiation.cli.group import hoist_global_options
from tiation.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ecosystem"
PLATFORM = """\
version: 1
project: {name: shop}
environments: {dev: {target: fake}}
services:
  db: {port: 5000, default_version: "1.0"}
  cms: {port: 5001, default_version: "1.0", depends_on: [db]}
"""


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("TIATION_FILE", raising=False)
    monkeypatch.delenv("TIATION_STATE", raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "shop.yaml"
    path.write_text(PLATFORM)
    return path


@pytest.mark.parametrize(
    ("args", "hoisted"),
    [
        (["status", "-f", "x.yaml"], ["-f", "x.yaml", "status"]),
        (["deploy", "local", "all", "--state", "URL"], ["--state", "URL", "deploy", "local", "all"]),
        (["approve", "prod", "cms", "1.1", "--as", "bob"], ["--as", "bob", "approve", "prod", "cms", "1.1"]),
        (["backup", "list", "--file=a.yaml", "-fb.yaml"], ["--file=a.yaml", "-fb.yaml", "backup", "list"]),
        (["-f", "a.yaml", "status", "-f", "b.yaml"], ["-f", "a.yaml", "-f", "b.yaml", "status"]),  # last wins
        (["render", "kubernetes", "--version", "cms=1"], ["render", "kubernetes", "--version", "cms=1"]),
        (["alerts", "explain", "--", "--as", "x"], ["alerts", "explain", "--", "--as", "x"]),
    ],
)
def test_group_options_written_after_the_subcommand_move_in_front(
    args: list[str], hoisted: list[str]
) -> None:
    assert hoist_global_options(args) == hoisted


def test_file_and_state_are_accepted_after_the_subcommand(
    platform: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(["validate", "-f", str(platform)], capsys)
    assert (code, err) == (0, "") and out.startswith(f"{platform}: valid")
    other = tmp_path / "elsewhere" / "state.db"
    other.parent.mkdir()
    code, _, err = _run(["history", "dev", "--file", str(platform), "--state", f"sqlite:///{other}"], capsys)
    assert (code, err) == (0, "") and other.exists()
    assert not (tmp_path / ".tiation" / "state.db").exists()


def test_validate_lists_every_mistake_in_file_order(
    platform: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform.write_text(
        PLATFORM.replace("port: 5000", "port: abc").replace("port: 5001", "port: -1, colour: red")
    )
    code, out, err = _run(["validate", "-f", str(platform)], capsys)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"error: {platform}:5:14: services.db.port: expected an integer, got 'abc'",
        f"error: {platform}:6:15: services.cms.port: must be at least 1, got -1",
        f"error: {platform}:6:19: services.cms.colour: unknown key 'colour'",
    ]
    code, out, err = _run(["status", "-f", str(platform)], capsys)  # other commands stop at the first
    assert code == 2 and err.splitlines() == [
        f"error: {platform}:5:14: services.db.port: expected an integer, got 'abc'"
    ]


def test_validate_lists_every_cross_reference_mistake(
    platform: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform.write_text(
        PLATFORM.replace("depends_on: [db]", "depends_on: [dbs, cache]").replace(
            '"1.0"}', '"1.0", depends_on: [cmz]}', 1
        )
    )
    code, _, err = _run(["validate", "-f", str(platform)], capsys)
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 3, lines
    assert "services.db.depends_on[0]: unknown service 'cmz' (did you mean 'cms'?)" in lines[0]
    assert "services.cms.depends_on[0]: unknown service 'dbs' (did you mean 'db'?)" in lines[1]
    assert "services.cms.depends_on[1]: unknown service 'cache'" in lines[2]


def test_validate_caps_the_list(platform: Path, capsys: pytest.CaptureFixture[str]) -> None:
    services = "".join(f"  s{i}: {{port: x{i}}}\n" for i in range(25))
    platform.write_text(PLATFORM.split("services:")[0] + "services:\n" + services)
    code, _, err = _run(["validate", "-f", str(platform)], capsys)
    lines = err.splitlines()
    assert code == 2 and len(lines) == 21
    assert lines[-1] == "error: … and 5 more mistakes (fix these first)"


def test_summary_counts_are_plural_only_when_more_than_one(
    platform: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform.write_text(
        PLATFORM.replace('  cms: {port: 5001, default_version: "1.0", depends_on: [db]}\n', "")
    )
    _, out, _ = _run(["validate", "-f", str(platform)], capsys)
    assert "1 environment, 1 service, 1 probe" in out.splitlines()[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["deploy", "dev", "cmz"], "unknown service 'cmz' (did you mean 'cms'?)"),
        (["deploy", "dve", "cms"], "unknown environment 'dve' (did you mean 'dev'?)"),
        (["stop", "dev", "dbb"], "unknown service 'dbb' (did you mean 'db'?)"),
        (["deploy", "dev", "zzz"], "unknown service 'zzz' (known: cms, db, or 'all')"),
    ],
)
def test_a_mistyped_name_gets_a_suggestion(
    platform: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = _run([*args, "-f", str(platform)], capsys)
    assert (code, err) == (2, f"error: {message}\n")


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "ecosystem"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".tiation"))
    monkeypatch.delenv("TIATION_FILE", raising=False)
    monkeypatch.delenv("TIATION_STATE", raising=False)
    monkeypatch.chdir(root)
    return root


def test_a_backup_schedule_nothing_runs_is_a_warning(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(["validate"], capsys)
    assert code == 0 and "valid" in out
    assert err.splitlines() == [
        "warning: tiation.yaml:111:15: backups.cms-db.schedule: nothing runs backup schedules yet "
        "(no scheduler in this release): run `tiation backup run cms-db` from cron or a timer"
    ]


def test_a_mistyped_backup_name_gets_a_suggestion(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["backup", "list", "cms-bd"], capsys)
    assert (code, err) == (2, "error: unknown backup 'cms-bd' (did you mean 'cms-db'?)\n")


def test_the_example_pages_only_for_critical_and_emergency(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The seed's escalation table: warning tells Slack and email and pages nobody (no PagerDuty)."""
    for severity, pages in (("info", False), ("warning", False), ("critical", True), ("emergency", True)):
        code, out, _ = _run(
            ["alerts", "explain", "alertname=X", "service=cms", f"severity={severity}"], capsys
        )
        assert code == 0
        assert ("pagerduty" in out) is pages, (severity, out)
        assert ("page nobody" in out) is not pages, (severity, out)
