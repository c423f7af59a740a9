"""Run the real server app under uvicorn with the shipped fake ingestor (a subprocess of the server tests).

argv[1] is a JSON file: {"port", "intake": {kind: settings}, "batching": {...}, "limits": {...}, "commit_delay",
"fail_label", "access_log"}. `GET /_test/events` shows what the fake committed (added through
`create_app(routers=...)`). A background service logs its start and stop, to show the lifespan hooks run.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from starlette.responses import JSONResponse

from tiation.config.alerting import Intake
from tiation.server.app import Batching, create_app
from tiation.server.fake import RecordingIngestor
from tiation.server.limits import Limits
from tiation.server.run import configure_logging, serve

log = logging.getLogger("fake_server")


class MarkerService:
    """A background service that only logs."""

    def start(self) -> None:
        log.info("marker service started")

    def stop(self) -> None:
        log.info("marker service stopped")


def main() -> None:
    config: dict[str, Any] = json.loads(Path(sys.argv[1]).read_text())
    fail_label = config.get("fail_label")
    ingestor = RecordingIngestor(
        commit_delay=config.get("commit_delay", 0.0),
        fail_when=(lambda group: any(e.labels.get("alertname") == fail_label for e in group))
        if fail_label
        else None,
    )
    router = APIRouter()

    @router.get("/_test/events", include_in_schema=False)
    async def events() -> JSONResponse:
        batches = [[[dict(e.labels) for e in group] for group in batch] for batch in list(ingestor.batches)]
        recorded = [
            {"status": e.status, "labels": dict(e.labels), "annotations": dict(e.annotations)}
            for e in ingestor.events
        ]
        return JSONResponse({"events": recorded, "batches": batches})

    intake = {kind: Intake.model_validate(settings) for kind, settings in config["intake"].items()}
    configure_logging(access_log=config.get("access_log", True))
    app = create_app(
        intake,
        ingestor,
        services=[MarkerService()],
        batching=Batching(**config.get("batching", {})),
        limits=Limits(**config.get("limits", {})),
        routers=[router],
    )
    serve(app, "127.0.0.1", int(config["port"]))
    log.info("clean exit")


if __name__ == "__main__":
    main()
