"""Intake authentication: a bearer token checked against stored SHA-256 hashes, or an HMAC body signature.

Bearer: `Authorization: Bearer <token>`. The server keeps only SHA-256 digests of accepted tokens
(`alerting.intake.<kind>.tokens_sha256`); it hashes the presented token and compares it with every digest using
`hmac.compare_digest`, so neither the comparison nor the number of digests compared depends on how close a
guess was. `tiation serve token` makes a token and its digest line.

Signature: `X-Tiation-Timestamp: <Unix seconds>` and `X-Tiation-Signature: sha256=<hex>`, where hex is
HMAC-SHA256 keyed with the intake's `hmac_secret` over the bytes `<timestamp> + "." + <raw body>` (the timestamp
exactly as sent). The timestamp must be within 5 minutes of the server's clock, so a captured request cannot be
replayed later; a replay inside the window is harmless because intake is idempotent (dedup by fingerprint).

Either credential is enough when both kinds are configured. Every failure is a 401 whose message never says
which token or digest came close, and no credential is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from tiation.config.alerting import Intake
from tiation.errors import TiationError
from tiation.secrets import SecretRef

SIGNATURE_HEADER = "x-tiation-signature"
TIMESTAMP_HEADER = "x-tiation-timestamp"
MAX_SKEW_SECONDS = 300.0
_PREFIX = "sha256="


class AuthError(TiationError):
    """The request's credentials are missing or not valid (HTTP 401). The message is safe to return."""


class Proof(Enum):
    """What the headers established before the body was read."""

    BEARER = "bearer"
    """A valid bearer token: the caller is authenticated."""
    SIGNATURE = "signature"
    """A signature to verify once the body has been read."""


def token_digest(token: str) -> str:
    """The SHA-256 hex digest of a token: what the platform file stores in `tokens_sha256`."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers that sign `body` at `timestamp` (Unix seconds) with `secret` — for clients and tests."""
    stamp = str(timestamp)
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Tiation-Timestamp": stamp, "X-Tiation-Signature": _PREFIX + mac}


@dataclass(frozen=True)
class IntakeAuth:
    """The credentials one intake accepts (token digests as bytes; the HMAC key, resolved)."""

    token_digests: tuple[bytes, ...] = ()
    hmac_key: bytes | None = None
    max_skew: float = MAX_SKEW_SECONDS

    @classmethod
    def from_config(cls, intake: Intake) -> IntakeAuth:
        """Resolve an intake's settings (reveals `hmac_secret`, which registers it for redaction)."""
        key: bytes | None = None
        ref = intake.hmac_secret
        if ref is not None:
            value = ref.reveal() if isinstance(ref, SecretRef) else SecretRef(ref).reveal()
            key = value.encode()
        return cls(tuple(bytes.fromhex(d) for d in intake.tokens_sha256), key)

    def _token_ok(self, token: str) -> bool:
        presented = hashlib.sha256(token.encode()).digest()
        found = False
        for digest in self.token_digests:  # no early exit: every digest is compared
            found |= hmac.compare_digest(presented, digest)
        return found

    def precheck(self, headers: Mapping[str, str]) -> Proof:
        """Decide from the headers alone: authenticated by token, or a signature to verify; else AuthError."""
        authorization = headers.get("authorization")
        signed = SIGNATURE_HEADER in headers
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer" and token.strip() and self._token_ok(token.strip()):
                return Proof.BEARER
            if not signed:
                raise AuthError("invalid credentials")
        if signed:
            if self.hmac_key is None:
                raise AuthError("invalid credentials")
            return Proof.SIGNATURE
        raise AuthError(
            "missing credentials: send 'Authorization: Bearer <token>' or an X-Tiation-Signature header"
        )

    def verify_signature(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Check the HMAC signature of `body` and the freshness of its timestamp; AuthError if either fails."""
        if self.hmac_key is None:
            raise AuthError("invalid credentials")
        stamp = headers.get(TIMESTAMP_HEADER)
        if stamp is None:
            raise AuthError("X-Tiation-Timestamp is required with X-Tiation-Signature")
        if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
            raise AuthError("X-Tiation-Timestamp must be Unix seconds")
        if abs(now - int(stamp)) > self.max_skew:
            raise AuthError("signature timestamp is more than 5 minutes away from the server's clock")
        signature = headers.get(SIGNATURE_HEADER, "")
        expected = hmac.new(self.hmac_key, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        presented = signature[len(_PREFIX) :] if signature.startswith(_PREFIX) else ""
        if not hmac.compare_digest(presented.lower().encode(), expected.encode()):
            raise AuthError("invalid credentials")
