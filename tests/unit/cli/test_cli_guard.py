"""The CLI's two tiers of errors, in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiation.cli.main import main
from tiation.redact import register_secret

PLATFORM = """\
version: 1
project: {name: shop}
environments: {dev: {target: fake}}
services: {db: {port: 5000, default_version: "1.0"}}
"""


def test_unexpected_error_prints_one_line_and_writes_a_redacted_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tiation.yaml"
    path.write_text(PLATFORM)
    monkeypatch.setenv("TIATION_FILE", str(path))
    register_secret("hunter2-in-a-bug")

    def boom(_: object) -> None:
        raise RuntimeError("bug while holding hunter2-in-a-bug")

    monkeypatch.setattr("tiation.config.summary.summarize", boom)
    with pytest.raises(SystemExit) as exit_info:
        main(["validate"])
    assert exit_info.value.code == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unexpected RuntimeError" in err and "please report" in err and "debug.log" in err
    assert "hunter2-in-a-bug" not in err
    log = (tmp_path / ".tiation" / "debug.log").read_text()
    assert "Traceback" in log and "RuntimeError" in log
    assert "hunter2-in-a-bug" not in log


def test_expected_errors_exit_with_their_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tiation.yaml"
    path.write_text(PLATFORM.replace("port: 5000", "port: '5000'"))
    monkeypatch.setenv("TIATION_FILE", str(path))
    with pytest.raises(SystemExit) as exit_info:
        main(["validate"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: {path}:4:23: services.db.port: expected an integer, got '5000' (remove the quotes)"
    )
    assert not (tmp_path / ".tiation" / "debug.log").exists()


def test_usage_errors_from_click_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["deploy"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().startswith("error: Missing argument")
