"""Limits on request bodies that protect the server from senders it cannot yet trust.

A signed request (`X-Tiation-Signature`) can only be checked once its whole body has been read, so until then
its bytes are held on behalf of someone unknown. `BodyBudget` caps those bytes across every intake together:
a request whose body does not fit the budget is answered 503 with Retry-After at once, before it is read.
Bearer-authenticated requests are known callers and are not counted. Every body, authenticated or not, must
arrive within `Limits.body_seconds` (else 408), so a slow sender cannot hold a connection and its budget share.
"""

from __future__ import annotations

from dataclasses import dataclass

UNAUTHENTICATED_BYTES = 8 << 20
BODY_SECONDS = 10.0


@dataclass(frozen=True)
class Limits:
    """Server-wide body limits (each intake's own `max_body_bytes` still applies per request)."""

    unauthenticated_bytes: int = UNAUTHENTICATED_BYTES
    """Bytes of bodies not yet authenticated, in memory at once, across all intakes."""
    body_seconds: float = BODY_SECONDS
    """Time allowed to receive a whole body, from the first byte asked for."""


class BodyBudget:
    """A count of bytes held for unauthenticated bodies. Used on the event loop only (no lock needed).

    One request may always take what it needs when nothing else is held, so a signed body larger than the
    budget (but within its intake's `max_body_bytes`) is still served, one at a time.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> bool:
        """Hold `size` more bytes if they fit; whether they did."""
        if self.used and self.used + size > self.limit:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        """Release bytes taken earlier."""
        self.used -= size
