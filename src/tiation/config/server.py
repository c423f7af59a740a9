"""The platform file's `server:` section: where `tiation serve` listens and how it links back to itself."""

from __future__ import annotations

from pydantic import Field

from tiation.config.alerting import TokenHash
from tiation.config.base import Name, Strict


class Server(Strict):
    """`tiation serve` settings (loopback by default: put a TLS proxy in front to expose it)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str | None = None
    """The URL people and Alertmanager use to reach the server (default: http://host:port)."""
    api_tokens_sha256: dict[Name, TokenHash] = Field(default_factory=dict)
    """Who may use the management API (acknowledge, resolve, overrides, calendars): actor -> SHA-256 of their
    bearer token. The actor's name is what the audit log records."""

    @property
    def base_url(self) -> str:
        """The server's URL without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
