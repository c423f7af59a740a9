"""The intake API over real HTTP: auth, limits, malformed and invalid bodies, OpenAPI, metrics, shutdown."""

from __future__ import annotations

import json
import re
import select
import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server_kit import ServerProcess, StartServer

from tiation.server.auth import sign, token_digest

pytestmark = pytest.mark.integration

TOKEN = "intake-token-5b1e"
SECRET = "intake-hmac-93c0"
LIMIT = 2048
ALERT = {"labels": {"alertname": "DiskFull", "service": "cms"}, "annotations": {"summary": "disk"}}
AM_BODY = {
    "version": "4",
    "status": "firing",
    "receiver": "tiation",
    "groupKey": "{}:{}",
    "alerts": [{"status": "firing", "labels": {"alertname": "HighCPU", "instance": "web-1"}}],
}
PD_BODY = {
    "routing_key": "r",
    "event_action": "trigger",
    "dedup_key": "k1",
    "payload": {"summary": "s", "source": "db-1", "severity": "error"},
}


CONFIG: dict[str, Any] = {
    "env": {"TEST_INTAKE_HMAC": SECRET},
    "intake": {
        "generic": {
            "tokens_sha256": [token_digest(TOKEN)],
            "hmac_secret": "env:TEST_INTAKE_HMAC",
            "max_body_bytes": LIMIT,
        },
        "alertmanager": {"tokens_sha256": [token_digest(TOKEN)]},
    },
}


@pytest.fixture(scope="module")
def server(start_module_server: StartServer) -> ServerProcess:
    """One server for the tests below; each looks only at what its own requests changed."""
    return start_module_server(**CONFIG)


def stored(server: ServerProcess) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = server.recorded()["events"]
    return events


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if series.startswith(name + "{") or series == name:
            got = ",".join(sorted(re.findall(r'(\w+="[^"]*")', series)))
            if got == want:
                return float(value)
    raise AssertionError(f"no series {name}{{{want}}}")


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "field"}
    assert "\n" not in body["error"]
    return body


def test_a_bearer_token_is_accepted_and_the_answer_waits_for_the_commit(start_server: StartServer) -> None:
    server = start_server(**CONFIG)
    client = server.client()
    first = client.post("/api/v1/intake/generic", json=ALERT, headers=bearer())
    assert first.status_code == 202
    assert first.json() == {
        "received": 1,
        "new": 1,
        "duplicates": 0,
        "resolved": 0,
        "acknowledged": 0,
        "silenced": 0,
        "incidents": [],
    }
    again = client.post("/api/v1/intake/generic", json={"alerts": [ALERT, ALERT]}, headers=bearer())
    assert again.json()["duplicates"] == 2
    am = client.post("/api/v1/intake/alertmanager", json=AM_BODY, headers=bearer())
    assert am.status_code == 202
    recorded = stored(server)
    assert [e["labels"]["alertname"] for e in recorded] == ["DiskFull", "DiskFull", "DiskFull", "HighCPU"]
    client.close()


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing credentials"),
        (bearer(TOKEN + "x"), "invalid credentials"),
        (bearer(TOKEN[:-1]), "invalid credentials"),
        ({"Authorization": f"Basic {TOKEN}"}, "invalid credentials"),
    ],
)
def test_missing_or_wrong_credentials_are_401_and_store_nothing(
    server: ServerProcess, client: httpx.Client, headers: dict[str, str], message: str
) -> None:
    before = len(stored(server))
    response = client.post("/api/v1/intake/generic", json=ALERT, headers=headers)
    body = error(response, 401)
    assert body["error"].startswith(message)
    assert response.headers["www-authenticate"] == "Bearer"
    assert len(stored(server)) == before


def test_an_hmac_signed_body_is_accepted(server: ServerProcess, client: httpx.Client) -> None:
    raw = json.dumps({"labels": {"alertname": "Signed"}}).encode()
    headers = {"Content-Type": "application/json", **sign(SECRET, raw, int(time.time()))}
    response = client.post("/api/v1/intake/generic", content=raw, headers=headers)
    assert response.status_code == 202, response.text
    assert stored(server)[-1]["labels"] == {"alertname": "Signed"}


@pytest.mark.parametrize(
    ("secret", "skew", "tamper", "message"),
    [
        (SECRET + "x", 0, False, "invalid credentials"),
        (SECRET, 0, True, "invalid credentials"),
        (SECRET, -400, False, "more than 5 minutes"),
        (SECRET, 400, False, "more than 5 minutes"),
    ],
)
def test_a_bad_or_stale_signature_is_401_and_stores_nothing(
    server: ServerProcess, client: httpx.Client, secret: str, skew: int, tamper: bool, message: str
) -> None:
    before = len(stored(server))
    raw = json.dumps(ALERT).encode()
    headers = {"Content-Type": "application/json", **sign(secret, raw, int(time.time()) + skew)}
    sent = raw.replace(b"cms", b"cmz") if tamper else raw
    body = error(client.post("/api/v1/intake/generic", content=sent, headers=headers), 401)
    assert message in body["error"]
    assert len(stored(server)) == before


def test_a_signature_on_an_intake_without_hmac_is_refused(
    server: ServerProcess, client: httpx.Client
) -> None:
    raw = json.dumps(AM_BODY).encode()
    headers = {"Content-Type": "application/json", **sign(SECRET, raw, int(time.time()))}
    error(client.post("/api/v1/intake/alertmanager", content=raw, headers=headers), 401)


def test_the_body_limit_is_inclusive(server: ServerProcess, client: httpx.Client) -> None:
    before = len(stored(server))
    raw = json.dumps(ALERT).encode()
    exact = raw + b" " * (LIMIT - len(raw))
    response = client.post(
        "/api/v1/intake/generic", content=exact, headers={**bearer(), "Content-Type": "application/json"}
    )
    assert response.status_code == 202
    over = error(
        client.post(
            "/api/v1/intake/generic",
            content=exact + b" ",
            headers={**bearer(), "Content-Type": "application/json"},
        ),
        413,
    )
    assert str(LIMIT) in over["error"]
    assert len(stored(server)) == before + 1


def test_a_chunked_body_without_content_length_is_cut_off(
    server: ServerProcess, client: httpx.Client
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"labels": {"alertname": "X"}, "annotations": {"pad": "'
        for _ in range(3):
            yield b"x" * 1000
        yield b'"}}'

    before = len(stored(server))
    response = client.post(
        "/api/v1/intake/generic", content=chunks(), headers={**bearer(), "Content-Type": "application/json"}
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    error(response, 413)
    assert len(stored(server)) == before


def test_an_endless_chunked_body_is_not_read_to_the_end(server: ServerProcess) -> None:
    """A sender streaming without end gets a 413 once the limit is passed; the server stops reading."""
    head = (
        "POST /api/v1/intake/generic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"%x\r\n" % 16384 + b" " * 16384 + b"\r\n"
    sent, answer = 0, b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        while sent < 64 << 20:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except OSError:
                break
            sent += len(chunk)
        sock.settimeout(10)
        while not answer.endswith(b"}"):
            piece = sock.recv(65536)
            if not piece:
                break
            answer += piece
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 64 << 20


def test_malformed_json_is_400(server: ServerProcess, client: httpx.Client) -> None:
    before = len(stored(server))
    for raw in (b'{"labels": ', b"", b"\xff\xfe{", b'{"labels": NaN}'):
        response = client.post(
            "/api/v1/intake/generic", content=raw, headers={**bearer(), "Content-Type": "application/json"}
        )
        assert error(response, 400)["error"].startswith("malformed JSON")
    assert len(stored(server)) == before


def test_a_schema_error_is_422_naming_the_field_and_nothing_is_stored(
    server: ServerProcess, client: httpx.Client
) -> None:
    before = len(stored(server))
    bad = {"alerts": [ALERT, ALERT, ALERT, {"labels": {"alertname": 5}}]}
    body = error(client.post("/api/v1/intake/generic", json=bad, headers=bearer()), 422)
    assert body == {"error": "alerts[3].labels: expected an object of strings", "field": "alerts[3].labels"}
    wrong_version = {**AM_BODY, "version": "3"}
    body = error(client.post("/api/v1/intake/alertmanager", json=wrong_version, headers=bearer()), 422)
    assert body["field"] == "version"
    assert len(stored(server)) == before


def test_wrong_content_type_is_415(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/intake/generic",
        content=json.dumps(ALERT),
        headers={**bearer(), "Content-Type": "text/plain"},
    )
    error(response, 415)
    ok = client.post(
        "/api/v1/intake/generic",
        content=json.dumps(ALERT),
        headers={**bearer(), "Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 202


def test_unconfigured_intake_unknown_path_and_wrong_method_are_json(client: httpx.Client) -> None:
    body = error(client.post("/api/v1/intake/pagerduty", json=PD_BODY, headers=bearer()), 404)
    assert "not configured" in body["error"]
    error(client.get("/api/v1/nothing-here"), 404)
    error(client.get("/api/v1/intake/generic"), 405)


def test_openapi_documents_every_intake(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    for kind in ("alertmanager", "pagerduty", "generic"):
        operation = doc["paths"][f"/api/v1/intake/{kind}"]["post"]
        assert set(operation["responses"]) >= {"202", "400", "401", "404", "413", "415", "422"}
        assert operation["requestBody"]["content"]["application/json"]["schema"]
    schemas = doc["components"]["schemas"]
    assert {"AlertmanagerWebhook", "PagerDutyEvent", "GenericBatch", "GenericAlert", "ErrorBody"} <= set(
        schemas
    )
    assert "startsAt" in schemas["AlertmanagerAlert"]["properties"]
    assert client.get("/docs").status_code == 200


def test_metrics_count_requests_by_intake_and_outcome(client: httpx.Client) -> None:
    old = client.get("/metrics").text
    client.post("/api/v1/intake/generic", json={"alerts": [ALERT, ALERT]}, headers=bearer())
    client.post("/api/v1/intake/generic", json=ALERT, headers=bearer("nope"))
    client.post("/api/v1/intake/generic", json={"alerts": 1}, headers=bearer())
    client.post("/api/v1/intake/pagerduty", json=PD_BODY, headers=bearer())
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text

    def grew(name: str, **labels: str) -> float:
        return metric(text, name, **labels) - metric(old, name, **labels)

    assert grew("tiation_intake_requests_total", intake="generic", outcome="accepted") == 1
    assert grew("tiation_intake_requests_total", intake="generic", outcome="unauthorized") == 1
    assert grew("tiation_intake_requests_total", intake="generic", outcome="invalid") == 1
    assert grew("tiation_intake_requests_total", intake="pagerduty", outcome="not_configured") == 1
    assert grew("tiation_intake_requests_total", intake="generic", outcome="malformed") == 0
    assert grew("tiation_intake_alerts_received_total", intake="generic") == 2
    assert grew("tiation_intake_request_duration_seconds_count", intake="generic") == 3
    assert grew("tiation_intake_batch_events_count") == 1
    assert "python_gc_objects_collected_total" not in text  # its own registry, not the global one


def test_healthz(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "intake_writer": True}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_cleanly_after_running_the_lifespan_hooks(
    start_server: StartServer, sig: int
) -> None:
    server = start_server(**CONFIG)
    with server.client() as client:
        assert client.post("/api/v1/intake/generic", json=ALERT, headers=bearer()).status_code == 202
    assert server.stop(sig) == 0
    log = server.log()
    assert "marker service started" in log
    assert log.index("marker service stopped") < log.index("clean exit")
    assert "Traceback" not in log
    access = [line for line in log.splitlines() if "tiation.server.access" in line]
    posts = [line for line in access if "POST /api/v1/intake/generic 202" in line]
    assert len(posts) == 1
    assert all(line.count(" GET ") + line.count(" POST ") == 1 for line in access)


def test_a_failing_store_answers_503_and_other_requests_still_commit(start_server: StartServer) -> None:
    server = start_server(intake={"generic": {"tokens_sha256": [token_digest(TOKEN)]}}, fail_label="poison")
    with server.client() as client:
        bad = client.post(
            "/api/v1/intake/generic", json={"labels": {"alertname": "poison"}}, headers=bearer()
        )
        body = error(bad, 503)
        assert bad.headers["retry-after"] == "5"
        assert "retry" in body["error"]
        assert client.post("/api/v1/intake/generic", json=ALERT, headers=bearer()).status_code == 202
    assert [e["labels"]["alertname"] for e in stored(server)] == ["DiskFull"]
