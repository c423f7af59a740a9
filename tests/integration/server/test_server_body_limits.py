"""Bodies from senders not yet trusted: a server-wide budget for signed (not yet verified) bodies, a body read
timeout, and text no notifier could send refused at the door."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest
from server_kit import ServerProcess, StartServer

from tiation.server.auth import sign, token_digest

pytestmark = pytest.mark.integration

TOKEN = "limits-token-4410"
SECRET = "limits-hmac-77aa"
BUDGET = 4096
CONFIG: dict[str, Any] = {
    "env": {"TEST_LIMITS_HMAC": SECRET},
    "intake": {
        "generic": {
            "tokens_sha256": [token_digest(TOKEN)],
            "hmac_secret": "env:TEST_LIMITS_HMAC",
            "max_body_bytes": 16384,
        }
    },
    "limits": {"unauthenticated_bytes": BUDGET, "body_seconds": 1.0},
}


@pytest.fixture(scope="module")
def server(start_module_server: StartServer) -> ServerProcess:
    return start_module_server(**CONFIG)


def signed_body(size: int) -> tuple[bytes, dict[str, str]]:
    """A valid signed generic alert padded to exactly `size` bytes."""
    raw = json.dumps({"labels": {"alertname": "Signed"}, "annotations": {"pad": ""}}).encode()
    raw = raw.replace(b'"pad": ""', b'"pad": "' + b"x" * (size - len(raw)) + b'"')
    assert len(raw) == size
    return raw, sign(SECRET, raw, int(time.time()))


def post_signed(server: ServerProcess, raw: bytes, signature: dict[str, str]) -> None:
    response = httpx.post(
        server.base + "/api/v1/intake/generic",
        content=raw,
        headers={"Content-Type": "application/json", **signature},
        timeout=5,
    )
    assert response.status_code == 202, response.text


def head(length: int, headers: dict[str, str]) -> bytes:
    lines = [
        "POST /api/v1/intake/generic HTTP/1.1",
        "Host: x",
        "Content-Type: application/json",
        f"Content-Length: {length}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Everything the server sends until it closes the connection or `timeout` passes without a byte."""
    sock.settimeout(timeout)
    data = b""
    try:
        while piece := sock.recv(65536):
            data += piece
    except TimeoutError:
        pass
    return data


def test_signed_bodies_beyond_the_budget_are_refused_at_once_and_bearer_requests_still_pass(
    server: ServerProcess,
) -> None:
    raw, signature = signed_body(3000)
    with socket.create_connection(("127.0.0.1", server.port)) as slow:
        slow.sendall(head(len(raw), signature) + raw[:100])  # holds 3000 of the 4096 bytes, slowly
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", server.port)) as other:
            started = time.monotonic()
            other.sendall(head(len(raw), signature))  # no body yet: refused before it is read
            refused = answer(other, timeout=0.5)
            assert refused.startswith(b"HTTP/1.1 503"), refused[:200]
            assert b"retry-after: 1" in refused.lower()
            assert time.monotonic() - started < 0.5
        bearer = httpx.post(
            server.base + "/api/v1/intake/generic",
            json={"labels": {"alertname": "Known"}},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=5,
        )
        assert bearer.status_code == 202
        slow.sendall(raw[100:])
        assert answer(slow, timeout=0.5).startswith(b"HTTP/1.1 202")
    # the budget is free again
    post_signed(server, raw, signature)


def test_a_signed_body_larger_than_the_budget_is_served_when_nothing_else_is_held(
    server: ServerProcess,
) -> None:
    raw, signature = signed_body(BUDGET * 2)
    post_signed(server, raw, signature)


def test_a_body_that_does_not_arrive_in_time_is_408_and_the_connection_closed(server: ServerProcess) -> None:
    before = len(server.recorded()["events"])
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        started = time.monotonic()
        sock.sendall(head(200, {"Authorization": f"Bearer {TOKEN}"}) + b'{"labels": ')
        data = answer(sock, timeout=5)
        elapsed = time.monotonic() - started
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert b"did not arrive within 1 seconds" in data
    assert 0.9 < elapsed < 4
    assert len(server.recorded()["events"]) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"labels": {"alertname": "X"}, "annotations": {"summary": "disk \\ud800 full"}}', "annotations"),
        ('{"alerts": [{"labels": {"alertname": "X", "a\\udfff": "b"}}]}', "alerts[0].labels"),
        ('{"labels": {"alertname": "X"}, "starts_at": "9999-12-31T23:59:59-14:00"}', "starts_at"),
    ],
)
def test_text_no_notifier_could_send_and_times_out_of_range_are_422_and_nothing_is_stored(
    server: ServerProcess, body: str, field: str
) -> None:
    before = len(server.recorded()["events"])
    response = httpx.post(
        server.base + "/api/v1/intake/generic",
        content=body.encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert len(server.recorded()["events"]) == before
