"""`status` is honest: an environment that cannot be observed is shown `unreachable (reason)`, the others
normally, and the exit code (3) says something was unknown."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tiation.cli.commands.read import EXIT_UNKNOWN
from tiation.cli.main import main

PLATFORM = """\
version: 1
project: {name: shop}
environments:
  dev: {target: fake}
  cluster:
    target: kubernetes
    kubernetes: {kubeconfig: .kube/config, context: deployer, namespace: shop}
services:
  cms: {port: 5001, default_version: "1.0", image: "shop/cms:{version}"}
"""

Status = Callable[..., tuple[int, str]]


@pytest.fixture
def status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Status:
    """`tiation status ARGS` in-process on PLATFORM: (exit code, stdout)."""
    (tmp_path / "tiation.yaml").write_text(PLATFORM)
    monkeypatch.setenv("TIATION_FILE", str(tmp_path / "tiation.yaml"))
    monkeypatch.delenv("TIATION_STATE", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)

    def run(*args: str) -> tuple[int, str]:
        code = 0
        try:
            main(["status", *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        return code, captured.out

    return run


def test_an_unreachable_environment_is_shown_as_such_and_the_rest_normally(status: Status) -> None:
    code, out = status("--json")
    assert code == EXIT_UNKNOWN == 3
    payload = json.loads(out)
    rows = {row["environment"]: row for row in payload["services"]}
    assert rows["dev"]["state"] == "not running" and rows["dev"]["unreachable"] is None
    reason = rows["cluster"]["unreachable"]
    assert reason and "kubeconfig" in reason.lower() and "\n" not in reason
    assert rows["cluster"]["state"] == f"unreachable ({reason})"
    assert payload["unreachable"] == {"cluster": reason}


def test_the_text_table_says_unreachable_with_the_reason(status: Status) -> None:
    code, out = status()
    assert code == EXIT_UNKNOWN
    assert "unreachable (" in out and "not running" in out


def test_every_environment_observed_exits_zero(status: Status) -> None:
    code, out = status("dev", "--json")
    assert code == 0
    assert json.loads(out)["unreachable"] == {}
