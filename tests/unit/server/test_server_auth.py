"""Intake authentication: bearer tokens against stored digests, HMAC signatures with a 5-minute window."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tiation.config.alerting import Intake
from tiation.errors import ConfigError
from tiation.redact import redact
from tiation.server.auth import AuthError, IntakeAuth, Proof, sign, token_digest

TOKEN = "tok-3f9a1c"
OTHER = "tok-other"
SECRET = "hmac-key-77d1"
NOW = 1_800_000_000
BODY = b'{"labels": {"alertname": "X"}}'


@pytest.fixture
def auth(monkeypatch: pytest.MonkeyPatch) -> IntakeAuth:
    monkeypatch.setenv("INTAKE_HMAC", SECRET)
    intake = Intake.model_validate(
        {"tokens_sha256": [token_digest(OTHER), token_digest(TOKEN)], "hmac_secret": "env:INTAKE_HMAC"}
    )
    return IntakeAuth.from_config(intake)


def test_token_digest_is_the_sha256_hex_the_platform_file_stores() -> None:
    assert token_digest(TOKEN) == hashlib.sha256(TOKEN.encode()).hexdigest()


@pytest.mark.parametrize(
    "header", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"Bearer {OTHER}", f"BEARER  {TOKEN} "]
)
def test_a_configured_bearer_token_passes(auth: IntakeAuth, header: str) -> None:
    assert auth.precheck({"authorization": header}) is Proof.BEARER


@pytest.mark.parametrize(
    "header", [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", "Bearer ", TOKEN, "Bearer"]
)
def test_a_wrong_bearer_token_is_refused_without_saying_why(auth: IntakeAuth, header: str) -> None:
    with pytest.raises(AuthError) as caught:
        auth.precheck({"authorization": header})
    assert str(caught.value) == "invalid credentials"


def test_no_credentials_at_all(auth: IntakeAuth) -> None:
    with pytest.raises(AuthError, match="missing credentials"):
        auth.precheck({})


def test_a_signature_is_verified_after_the_body_is_read(auth: IntakeAuth) -> None:
    headers = {k.lower(): v for k, v in sign(SECRET, BODY, NOW).items()}
    assert auth.precheck(headers) is Proof.SIGNATURE
    auth.verify_signature(headers, BODY, NOW + 299.0)
    auth.verify_signature(headers, BODY, NOW - 299.0)


def test_the_signed_material_is_timestamp_dot_body(auth: IntakeAuth) -> None:
    mac = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    headers = {"x-tiation-timestamp": str(NOW), "x-tiation-signature": f"sha256={mac}"}
    auth.verify_signature(headers, BODY, NOW)
    assert sign(SECRET, BODY, NOW)["X-Tiation-Signature"] == f"sha256={mac}"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"body": BODY + b" "}, "invalid credentials"),
        ({"secret": SECRET + "x"}, "invalid credentials"),
        ({"now": NOW + 301.0}, "more than 5 minutes"),
        ({"now": NOW - 301.0}, "more than 5 minutes"),
        ({"stamp": "soon"}, "Unix seconds"),
        ({"stamp": None}, "X-Tiation-Timestamp is required"),
        ({"signature": "md5=abc"}, "invalid credentials"),
        ({"signature": "sha256="}, "invalid credentials"),
    ],
)
def test_a_bad_or_stale_signature_is_refused(
    auth: IntakeAuth, change: dict[str, object], message: str
) -> None:
    secret = str(change.get("secret", SECRET))
    headers = {k.lower(): v for k, v in sign(secret, BODY, NOW).items()}
    if "stamp" in change:
        if change["stamp"] is None:
            del headers["x-tiation-timestamp"]
        else:
            headers["x-tiation-timestamp"] = str(change["stamp"])
    if "signature" in change:
        headers["x-tiation-signature"] = str(change["signature"])
    body = change.get("body", BODY)
    assert isinstance(body, bytes)
    now = change.get("now", float(NOW))
    assert isinstance(now, float)
    with pytest.raises(AuthError, match=message):
        auth.verify_signature(headers, body, now)


def test_a_signature_where_only_tokens_are_configured_is_refused() -> None:
    auth = IntakeAuth.from_config(Intake.model_validate({"tokens_sha256": [token_digest(TOKEN)]}))
    headers = {k.lower(): v for k, v in sign(SECRET, BODY, NOW).items()}
    with pytest.raises(AuthError, match="invalid credentials"):
        auth.precheck(headers)


def test_a_wrong_token_beside_a_signature_falls_back_to_the_signature(auth: IntakeAuth) -> None:
    headers = {k.lower(): v for k, v in sign(SECRET, BODY, NOW).items()}
    assert auth.precheck({**headers, "authorization": "Bearer nope"}) is Proof.SIGNATURE


def test_the_hmac_secret_is_resolved_and_registered_for_redaction(auth: IntakeAuth) -> None:
    assert auth.hmac_key == SECRET.encode()
    assert SECRET not in redact(f"key is {SECRET}")


def test_a_missing_hmac_secret_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTAKE_HMAC_MISSING", raising=False)
    intake = Intake.model_validate({"hmac_secret": "env:INTAKE_HMAC_MISSING"})
    with pytest.raises(ConfigError, match="INTAKE_HMAC_MISSING"):
        IntakeAuth.from_config(intake)
