"""Group commit over HTTP: concurrent requests share transactions, yet each gets its own result."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from server_kit import StartServer

from tiation.server.auth import token_digest

pytestmark = pytest.mark.integration

TOKEN = "batch-token-0a7c"
SENDERS = 24


def test_concurrent_requests_are_committed_together_and_answered_one_by_one(
    start_server: StartServer,
) -> None:
    # Each commit takes 50 ms, so requests arriving meanwhile must wait for, and join, the next one.
    server = start_server(intake={"generic": {"tokens_sha256": [token_digest(TOKEN)]}}, commit_delay=0.05)
    barrier = threading.Barrier(SENDERS)
    answers: dict[int, dict[str, Any]] = {}

    def send(i: int) -> None:
        body = {"alerts": [{"labels": {"alertname": f"A{i}", "n": str(j)}} for j in range(i % 3 + 1)]}
        with httpx.Client(base_url=server.base, timeout=30) as client:
            barrier.wait()
            response = client.post(
                "/api/v1/intake/generic", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
            )
        assert response.status_code == 202
        answers[i] = response.json()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(answers) == list(range(SENDERS))
    for i, answer in answers.items():
        assert answer["received"] == answer["new"] == i % 3 + 1
    batches = server.recorded()["batches"]
    groups = [group for batch in batches for group in batch]
    assert sorted(len(g) for g in groups) == sorted(i % 3 + 1 for i in range(SENDERS))
    assert all(len({e["alertname"] for e in group}) == 1 for group in groups)  # a request is never split
    assert len(batches) < SENDERS  # some transactions held several requests
