"""`status` is honest: an environment that cannot be observed is shown `unreachable (reason)`, the others
normally, and the exit code (3) says something was unknown."""

from __future__ import annotations

import json
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
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tiation.yaml"
    path.write_text(PLATFORM)
    return path


def test_an_unreachable_environment_is_shown_as_such_and_the_rest_normally(
    platform: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(["status", "--json"], capsys)
    assert code == EXIT_UNKNOWN == 3, err
    assert "Traceback" not in err
    payload = json.loads(out)
    rows = {row["environment"]: row for row in payload["services"]}
    assert rows["dev"]["state"] == "not running" and rows["dev"]["unreachable"] is None
    reason = rows["cluster"]["unreachable"]
    assert reason and "kubeconfig" in reason.lower() and "\n" not in reason
    assert rows["cluster"]["state"] == f"unreachable ({reason})"
    assert payload["unreachable"] == {"cluster": reason}


def test_the_text_table_says_unreachable_with_the_reason(
    platform: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(["status"], capsys)
    assert code == EXIT_UNKNOWN
    assert "unreachable (" in out and "not running" in out


def test_every_environment_observed_exits_zero(platform: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["status", "dev", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["unreachable"] == {}
