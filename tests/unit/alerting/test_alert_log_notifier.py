"""The `log` notifier behind the outbox: a page queued by the alert engine ends up as one JSON line."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fixtures.alerting_kit import PLATFORM, firing, make_service
from tiation.alerting.notifiers import make_notifier
from tiation.alerting.outbox import OutboxWorker
from tiation.clock import SystemClock

LOCAL = PLATFORM.replace(
    "slack: {kind: slack, webhook_url: env:SLACK_URL}", "slack: {kind: log, path: pages.jsonl}"
)


def test_the_outbox_delivers_pages_to_the_log_file(tmp_path: Path) -> None:
    assert LOCAL != PLATFORM
    svc = make_service(tmp_path, LOCAL)
    svc.ingest([firing(severity="info"), firing("DiskFull", severity="info")])  # two incidents: channel only
    assert svc.fire_due() == 2
    settings = svc.platform.notifiers["slack"]
    worker = OutboxWorker(
        svc.store, {"slack": make_notifier("slack", settings, clock=SystemClock(), base=tmp_path)}, svc.clock
    )
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with svc.store.read("t") as uow:
                tx = uow.alerts
                if all(r.state == "sent" for r in tx.list_outbox()):
                    break
            time.sleep(0.02)
    finally:
        worker.stop()
    with svc.store.read("t") as uow:
        tx = uow.alerts
        rows = tx.list_outbox()
    assert [r.state for r in rows] == ["sent", "sent"]
    lines = [json.loads(text) for text in (tmp_path / "pages.jsonl").read_text().splitlines()]
    assert [(entry["notifier"], entry["event"], entry["title"]) for entry in lines] == [
        ("slack", "trigger", "[info] HighErrorRate cms"),
        ("slack", "trigger", "[info] DiskFull cms"),
    ]
    assert [entry["key"] for entry in lines] == [r.key for r in rows]
