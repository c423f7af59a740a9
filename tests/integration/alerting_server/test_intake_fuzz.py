"""Property: no body a sender can send makes `tiation serve` answer 500 or log an exception.

Random unicode (lone UTF-16 surrogates included), random JSON shapes, and wire-shaped bodies with random text
and edge-case times go through every intake of one real server (the CLI in a subprocess, real engine, SQLite,
a webhook notifier delivering to a receiver). Every answer must be < 500 (a 422 names its field), and at the
end the server's log holds no error and no traceback: no exception in a request, the writer, the timers or the
outbox worker.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_kit import Receiver, Serve, servers

from tiation.server.auth import token_digest

pytestmark = pytest.mark.integration

TOKEN = "fuzz-intake-token-88d1"
PLATFORM = f"""\
version: 1
project: {{name: intake-fuzz}}
environments: {{production: {{target: fake}}}}
services: {{cms: {{port: 5000}}}}
server: {{host: 127.0.0.1, port: {{port}}}}
notifiers:
  hook: {{kind: webhook, url: env:F_HOOK_URL, secret: env:F_HOOK_SECRET, timeout: 2s}}
alerting:
  intake:
    generic: {{tokens_sha256: ["{token_digest(TOKEN)}"]}}
    alertmanager: {{tokens_sha256: ["{token_digest(TOKEN)}"]}}
    pagerduty: {{tokens_sha256: ["{token_digest(TOKEN)}"]}}
  severities:
    critical: {{channels: [hook], escalation_delay: none}}
    warning: {{channels: [hook], escalation_delay: none}}
    info: {{channels: [], escalation_delay: none}}
  default_severity: warning
"""

# every code point, lone surrogates included: hypothesis leaves category Cs out of `characters()` even with
# `exclude_categories=()`, so surrogates are drawn on their own as well
text = st.text(st.characters(exclude_categories=()) | st.characters(categories=["Cs"]), max_size=12)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text
json_values = st.recursive(
    scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(text, kids, max_size=3), max_leaves=12
)
offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
times = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=offsets
    ).map(datetime.isoformat),
    st.sampled_from(
        [
            "9999-12-31T23:59:59-14:00",
            "9999-12-31T23:59:59.999999-00:01",
            "0001-01-01T00:00:00+14:00",
            "0001-01-01T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-03-01T12:00:00",
        ]
    ),
    st.integers(min_value=-(10**30), max_value=10**30),
    text,
)
labels = st.dictionaries(text, text, min_size=1, max_size=4)
strings = st.dictionaries(text, text, max_size=3)
# Fields stay valid in type and shape (so most bodies reach the store and the notifiers), their text is random;
# `test_any_json_never_gives_500` covers shapes that are wrong.
generic_alert = st.fixed_dictionaries(
    {"labels": labels},
    optional={
        "status": st.sampled_from(["firing", "resolved", "acknowledged"]),
        "annotations": strings,
        "starts_at": times,
        "ends_at": times,
        "generator_url": text,
        "dedup_key": text,
    },
)
generic = st.one_of(generic_alert, st.fixed_dictionaries({"alerts": st.lists(generic_alert, max_size=3)}))
alertmanager = st.fixed_dictionaries(
    {
        "version": st.just("4"),
        "status": st.sampled_from(["firing", "resolved"]),
        "receiver": text,
        "alerts": st.lists(
            st.fixed_dictionaries(
                {"status": st.sampled_from(["firing", "resolved"]), "labels": labels},
                optional={"annotations": strings, "startsAt": times, "endsAt": times, "generatorURL": text},
            ),
            max_size=3,
        ),
    },
    optional={"groupKey": text, "commonAnnotations": strings, "externalURL": text, "extra": json_values},
)
pagerduty = st.fixed_dictionaries(
    {
        "routing_key": text,
        "event_action": st.sampled_from(["trigger", "trigger", "acknowledge", "resolve"]),
        "dedup_key": text,
        "payload": st.fixed_dictionaries(
            {
                "summary": text,
                "source": text,
                "severity": st.sampled_from(["critical", "error", "warning", "info"]),
            },
            optional={"timestamp": times, "component": text, "class": text, "custom_details": json_values},
        ),
    },
    optional={"links": st.lists(st.fixed_dictionaries({"href": text}, optional={"text": text}), max_size=2)},
)
BODIES = {"generic": generic, "alertmanager": alertmanager, "pagerduty": pagerduty}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Serve, Receiver]]:
    receiver = Receiver().start()
    try:
        with servers(tmp_path_factory.mktemp("fuzz")) as start:
            env = {"F_HOOK_URL": receiver.url("/pages"), "F_HOOK_SECRET": "fuzz-hook-secret"}
            yield start(PLATFORM, env=env), receiver
    finally:
        receiver.close()


@pytest.fixture(scope="module")
def client(served: tuple[Serve, Receiver]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    with httpx.Client(base_url=served[0].base, headers=headers, timeout=30) as c:
        yield c


def post(client: httpx.Client, kind: str, body: Any, ascii_only: bool) -> None:
    raw = json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    response = client.post(f"/api/v1/intake/{kind}", content=raw)
    assert response.status_code < 500, (kind, response.status_code, response.text, raw[:500])
    if response.status_code == 422:
        assert set(response.json()) == {"error", "field"}


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_wire_shaped_bodies_with_random_text_and_times_never_give_500(
    kind: str, client: httpx.Client
) -> None:
    @FUZZ
    @given(body=BODIES[kind], ascii_only=st.booleans())
    def check(body: Any, ascii_only: bool) -> None:
        post(client, kind, body, ascii_only)

    check()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(BODIES)), body=json_values)
def test_any_json_never_gives_500(kind: str, body: Any, client: httpx.Client) -> None:
    post(client, kind, body, True)


def test_the_server_logged_no_error_and_no_traceback(served: tuple[Serve, Receiver]) -> None:
    serve, receiver = served
    assert receiver.received(), "no notification was delivered: the fuzz reached no notifier"
    time.sleep(1.5)  # let the outbox finish what the last requests queued
    log = serve.log()
    problems = [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]
    assert not problems, "\n".join(problems[:20])
    assert serve.proc is not None and serve.proc.poll() is None
