"""Secret hygiene: a planted token and HMAC secret never appear in any answer or in the server's log,
whatever the sender does with them (right, wrong, in the body, in a header, in the path)."""

from __future__ import annotations

import json
import secrets
import time

import pytest
from server_kit import StartServer

from tiation.server.auth import sign, token_digest

pytestmark = pytest.mark.integration


def test_planted_credentials_never_reach_an_answer_or_the_log(start_server: StartServer) -> None:
    token = "tok-PLANTED-" + secrets.token_hex(8)
    hmac_secret = "hmac-PLANTED-" + secrets.token_hex(8)
    server = start_server(
        env={"PLANTED_HMAC": hmac_secret},
        intake={
            "generic": {
                "tokens_sha256": [token_digest(token)],
                "hmac_secret": "env:PLANTED_HMAC",
                "max_body_bytes": 1024,
            },
            "alertmanager": {"tokens_sha256": [token_digest(token)]},
            "pagerduty": {"hmac_secret": "env:PLANTED_HMAC"},
        },
    )
    ok = {"Authorization": f"Bearer {token}"}
    json_type = {"Content-Type": "application/json"}
    alert = {"labels": {"alertname": "Planted"}}
    raw = json.dumps(alert).encode()
    statuses = []
    with server.client() as client:
        for headers, body in [
            (ok, alert),
            ({"Authorization": f"Bearer {token}x"}, alert),
            ({"Authorization": f"Bearer {token[:-2]}"}, alert),
            ({"Authorization": f"Bearer {hmac_secret}"}, alert),
            ({"Authorization": f"Basic {token}"}, alert),
            ({**ok, "X-Debug": token}, {"labels": {"alertname": 5, token: [token]}}),
            (ok, {"alerts": [{"labels": {"alertname": "x"}, token: hmac_secret}]}),
            (ok, {"labels": {"alertname": "x"}, "status": token}),
            (ok, {"labels": {"alertname": "x"}, "starts_at": token}),
        ]:
            statuses.append(client.post("/api/v1/intake/generic", json=body, headers=headers).status_code)
        for content in (f'{{"labels": "{token}'.encode(), token.encode() * 200, b"[" * 1010):
            response = client.post("/api/v1/intake/generic", content=content, headers={**ok, **json_type})
            statuses.append(response.status_code)
        now = int(time.time())
        for secret, at in ((hmac_secret, now), (hmac_secret + "x", now), (hmac_secret, now - 3600)):
            headers = {**json_type, **sign(secret, raw, at)}
            statuses.append(client.post("/api/v1/intake/generic", content=raw, headers=headers).status_code)
        am = {"version": token, "status": "firing", "receiver": token, "alerts": []}
        statuses.append(client.post("/api/v1/intake/alertmanager", json=am, headers=ok).status_code)
        pd = {"routing_key": token, "event_action": token}
        signed = {**json_type, **sign(hmac_secret, json.dumps(pd).encode(), now)}
        statuses.append(
            client.post("/api/v1/intake/pagerduty", content=json.dumps(pd), headers=signed).status_code
        )
        statuses.append(client.get(f"/api/v1/intake/{token}").status_code)
        statuses.append(client.get(f"/{hmac_secret}?token={token}").status_code)
        statuses.append(client.get("/metrics").status_code)
        statuses.append(client.get("/openapi.json").status_code)
        statuses.append(client.get("/healthz").status_code)
    assert server.stop() == 0

    expected = [202, 401, 401, 401, 401, 422, 422, 422, 422, 400, 413, 400, 202, 401, 401, 422, 422]
    assert statuses[:-5] == expected
    assert statuses[-5:] == [404, 404, 200, 200, 200]
    assert len(server.responses) == len(statuses)
    for response in server.responses:
        seen = response.text + json.dumps(dict(response.headers))
        assert token not in seen, response.request.url
        assert hmac_secret not in seen, response.request.url
    log = server.log()
    assert "POST /api/v1/intake/generic 202" in log  # the log was captured
    assert token not in log
    assert hmac_secret not in log
    assert "PLANTED" not in log
