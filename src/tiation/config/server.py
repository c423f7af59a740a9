"""The platform file's `server:` section: where `tiation serve` listens and how it links back to itself."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

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
    trusted_proxies: list[str] = Field(default_factory=list)
    """Addresses or CIDR networks of reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed
    (the access log then shows the proxy's client). Default none: the headers are ignored from everyone, and
    uvicorn's `FORWARDED_ALLOW_IPS` variable is not read."""

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        out = []
        for item in value:
            try:
                out.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(
                    "expected IP addresses or CIDR networks, e.g. 10.0.0.0/8 or 127.0.0.1"
                ) from None
        return out

    @property
    def base_url(self) -> str:
        """The server's URL without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
