"""A big body is parsed beside the event loop: while it is parsed, small requests are still read and answered."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from tiation.alerting import intake as intake_parsers
from tiation.alerting.model import AlertEvent
from tiation.clock import SystemClock
from tiation.server.auth import IntakeAuth, token_digest
from tiation.server.committer import GroupCommitter
from tiation.server.fake import RecordingIngestor
from tiation.server.intake import OFF_LOOP_BYTES, IntakeEndpoint
from tiation.server.metrics import ServerMetrics

TOKEN = "off-loop-token"


def request(body: bytes) -> tuple[dict[str, Any], Any]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/intake/generic",
        "headers": [
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return scope, receive


def test_small_requests_are_answered_while_a_big_body_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    parsing_big = threading.Event()
    release = threading.Event()
    real = intake_parsers.PARSERS["generic"]

    def slow_parse(data: object) -> list[AlertEvent]:
        if isinstance(data, dict) and len(data.get("alerts", ())) > 1:
            parsing_big.set()
            release.wait(10)  # stands in for parsing thousands of alerts
        return real(data)

    monkeypatch.setitem(intake_parsers.PARSERS, "generic", slow_parse)
    committer = GroupCommitter(RecordingIngestor())
    endpoint = IntakeEndpoint(
        kind="generic",
        auth=IntakeAuth((bytes.fromhex(token_digest(TOKEN)),)),
        max_body_bytes=4 << 20,
        committer=committer,
        metrics=ServerMetrics(CollectorRegistry()),
        clock=SystemClock(),
    )
    pad = "x" * 200
    big = json.dumps(
        {"alerts": [{"labels": {"alertname": f"a{i}", "pad": pad}} for i in range(2000)]}
    ).encode()
    assert len(big) > OFF_LOOP_BYTES
    small = json.dumps({"labels": {"alertname": "small"}}).encode()
    answered: list[str] = []

    async def post(name: str, body: bytes) -> None:
        statuses: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        scope, receive = request(body)
        await endpoint(scope, receive, send)
        assert statuses == [202]
        answered.append(name)

    async def scenario() -> None:
        committer.start()
        big_task = asyncio.create_task(post("big", big))
        while not parsing_big.is_set():
            await asyncio.sleep(0.001)
        await asyncio.wait_for(post("small", small), timeout=5)  # the loop is free while the big body parses
        release.set()
        await big_task
        committer.stop()

    try:
        asyncio.run(scenario())
    finally:
        release.set()
    assert answered == ["small", "big"]
