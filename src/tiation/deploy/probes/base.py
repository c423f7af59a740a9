"""The probe-kind plug-in point: `run_check` runs a check of any kind, dispatching on the check's type.

A kind's module registers its runner with `@run_check.register` (a function taking the kind's `Check` model
and a `ProbeContext`, returning `(passing, detail)`); `tiation.deploy.probes` imports every kind's module.
A failing check is a result, never an exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import singledispatch
from typing import TYPE_CHECKING

from tiation.config.durations import format_duration
from tiation.config.probes import Check
from tiation.errors import ProbeError
from tiation.targets.base import Endpoint

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class ProbeContext:
    """What a check runs against: the instance's endpoint and version, the probe's timeout (seconds), and an
    HTTP client to reuse (None: a check that needs one makes its own)."""

    endpoint: Endpoint
    version: str
    timeout: float
    http: httpx.Client | None = None

    def fill(self, text: str) -> str:
        """`text` with `{host}`, `{port}` and `{version}` replaced by the instance's."""
        values = {"{host}": self.endpoint.host, "{port}": str(self.endpoint.port), "{version}": self.version}
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    @contextmanager
    def http_client(self) -> Iterator[httpx.Client]:
        """The shared HTTP client, or a client of its own for this one check."""
        if self.http is not None:
            yield self.http
            return
        import httpx

        with httpx.Client(trust_env=False, follow_redirects=False) as client:
            yield client


@singledispatch
def run_check(check: Check, ctx: ProbeContext) -> tuple[bool, str]:
    """Run `check` once: (passing, a short detail such as "status 503 (expected 200)")."""
    raise ProbeError(f"no runner is registered for probe kind {check.kind!r}")


def timed_out(timeout: float) -> str:
    """The detail of a check that ran out of time."""
    return "timed out after " + format_duration(timedelta(seconds=timeout))


def url_host(host: str) -> str:
    """`host` as written in a URL (IPv6 addresses in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def connect_failure(exc: BaseException) -> str:
    """The detail of a connection that failed: "connection refused", or the error."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower():
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    return f"cannot connect: {exc}"
