"""The rendered Alertmanager configuration, checked by the real `amtool check-config`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fixtures.monitoring import tool
from tiation.render.alertmanager import AlertmanagerSettings, render_alertmanager
from tiation.render.files import write_files

pytestmark = pytest.mark.integration

TOKEN = "am-intake-token-7f3e9a"


@pytest.mark.parametrize(
    "settings",
    [
        AlertmanagerSettings(webhook_url="http://127.0.0.1:8080/api/v1/intake/alertmanager"),
        AlertmanagerSettings(
            webhook_url="https://oncall.example.com:8443/base/api/v1/intake/alertmanager",
            token_file="/etc/tiation/alertmanager.token",
            group_wait=timedelta(milliseconds=500),
            group_interval=timedelta(seconds=2),
            repeat_interval=timedelta(hours=4),
        ),
    ],
)
def test_amtool_accepts_the_config(tmp_path: Path, settings: AlertmanagerSettings) -> None:
    (tmp_path / "alertmanager.token").write_text(TOKEN + "\n")
    file = render_alertmanager(settings, source="tiation.yaml")
    write_files(tmp_path, [file])
    proc = tool("amtool", "check-config", str(tmp_path / "alertmanager.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout
    assert "1 receivers" in proc.stdout
    assert TOKEN not in file.content


def test_amtool_rejects_a_broken_edit_of_it(tmp_path: Path) -> None:
    # the check is real: the same file with the receiver renamed no longer names an existing receiver
    file = render_alertmanager(AlertmanagerSettings(webhook_url="http://127.0.0.1:1/x"), source="t.yaml")
    (tmp_path / "alertmanager.yml").write_text(file.content.replace("receiver: tiation", "receiver: nobody"))
    proc = tool("amtool", "check-config", str(tmp_path / "alertmanager.yml"))
    assert proc.returncode != 0
    assert "nobody" in proc.stdout + proc.stderr
