"""A real Alertmanager (Debian's 0.25) delivers its version 4 webhook to the server with a bearer token:
firing, then resolved, each accepted and turned into events with the alert's labels."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_kit import ServerProcess, StartServer

from fixtures.common import our_processes
from fixtures.monitoring import Monitoring, wait_for
from tiation.server.auth import token_digest

pytestmark = pytest.mark.integration

TOKEN = "am-token-d41f"
LABELS = {"alertname": "HighErrorRate", "service": "cms", "severity": "critical"}


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Monitoring]:
    root = tmp_path / "am"
    root.mkdir()
    kit = Monitoring(root)
    try:
        yield kit
    finally:
        kit.close()
        assert not our_processes(root)


def _config(tmp_path: Path, server: ServerProcess) -> Path:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    config = {
        "route": {
            "receiver": "tiation",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "tiation",
                "webhook_configs": [
                    {
                        "url": f"{server.base}/api/v1/intake/alertmanager",
                        "send_resolved": True,
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials_file": str(token_file)}
                        },
                    }
                ],
            }
        ],
    }
    path = tmp_path / "alertmanager.yml"
    path.write_text(json.dumps(config))
    return path


def _post_alert(am_url: str, ends_at: datetime | None = None) -> None:
    now = datetime.now(UTC)
    alert: dict[str, Any] = {
        "labels": LABELS,
        "annotations": {"summary": "5xx above 5%"},
        "startsAt": (now - timedelta(minutes=1)).isoformat(),
        "generatorURL": "http://prometheus.example/graph",
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    response = httpx.post(f"{am_url}/api/v2/alerts", json=[alert], timeout=10)
    assert response.status_code == 200, response.text


def test_alertmanager_webhook_reaches_the_intake(
    tmp_path: Path, start_server: StartServer, kit: Monitoring
) -> None:
    server = start_server(intake={"alertmanager": {"tokens_sha256": [token_digest(TOKEN)]}})
    am = kit.alertmanager(_config(tmp_path, server))

    _post_alert(am.url)
    firing = wait_for("the firing notification", lambda: server.recorded()["events"], timeout=60)
    assert firing[0]["status"] == "firing"
    assert firing[0]["labels"] == LABELS
    assert firing[0]["annotations"] == {"summary": "5xx above 5%"}

    _post_alert(am.url, ends_at=datetime.now(UTC) - timedelta(seconds=1))

    def resolved() -> list[dict[str, Any]]:
        return [e for e in server.recorded()["events"] if e["status"] == "resolved"]

    (last, *_) = wait_for("the resolved notification", resolved, timeout=60)
    assert last["labels"] == LABELS
    metrics = httpx.get(server.base + "/metrics", timeout=10).text
    assert 'tiation_intake_requests_total{intake="alertmanager",outcome="invalid"} 0.0' in metrics
    assert 'tiation_intake_requests_total{intake="alertmanager",outcome="unauthorized"} 0.0' in metrics
