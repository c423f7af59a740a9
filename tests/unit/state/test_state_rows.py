"""Row helpers: redacted JSON documents and lease messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tiation.redact import MASK, register_secret
from tiation.state import Lease
from tiation.state.rows import load_json, plain_json, redacted_json

T0 = datetime(2026, 11, 29, 9, 15, 22, 900000, tzinfo=UTC)


def _lease(reason: str = "deploy cms 1.2.0", ttl: float = 60) -> Lease:
    return Lease(
        environment="production",
        service="cms",
        owner="alice@host pid 1234",
        reason=reason,
        token="t" * 32,
        acquired_at=T0,
        heartbeat_at=T0 + timedelta(seconds=10),
        expires_at=T0 + timedelta(seconds=10 + ttl),
        expired=False,
    )


def test_redacted_json_masks_values_keys_and_escaped_secrets() -> None:
    register_secret('quo"te\\secret')
    register_secret("plain-secret-value")
    doc = {
        "a": 'x quo"te\\secret y',  # JSON escapes this one: caught per value
        "plain-secret-value": ["plain-secret-value", 3, None, True, 1.5],
        "dsn": "postgresql://u:pw@h/db",
        "when": T0,
    }
    stored = redacted_json(doc)
    assert "plain-secret-value" not in stored and "quo" not in stored and ":pw@" not in stored
    back = json.loads(stored)
    assert back == {
        "a": f"x {MASK} y",
        MASK: [MASK, 3, None, True, 1.5],
        "dsn": f"postgresql://u:{MASK}@h/db",
        "when": str(T0),
    }


def test_redacted_json_of_nothing() -> None:
    assert redacted_json(None) == "{}"
    assert load_json(None) == {} and load_json("") == {}
    assert load_json("[1, 2]") == {"value": [1, 2]}


def test_plain_json_keeps_everything() -> None:
    register_secret("plain-secret-value")
    spec = {"env": {"X": "plain-secret-value"}, "ü": "✓"}
    assert json.loads(plain_json(spec)) == spec


def test_lease_helpers() -> None:
    lease = _lease()
    assert lease.ttl == timedelta(seconds=60)
    assert lease.key == "production/cms"
    assert lease.expires_in(T0 + timedelta(seconds=28.5)) == 42  # rounded up
    assert lease.expires_in(T0 + timedelta(hours=1)) == 0
    assert lease.held_message(T0 + timedelta(seconds=28.5)) == (
        "production/cms is locked by alice@host pid 1234 (deploy cms 1.2.0) since 2026-11-29T09:15:22Z;"
        " expires in 42s — wait, or `tiation lock release production cms --force`"
    )
    assert "()" not in _lease(reason="").held_message(T0)
