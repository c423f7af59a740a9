"""Run one health probe (http, tcp or command) against one instance.

A failing check is a result, not an error: `run_probe` returns `ok=False` with a short detail such as
"connection refused" or "status 503 (expected 200)" and never raises for it.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tiation.clock import Clock
from tiation.config.durations import format_duration
from tiation.config.models import CommandCheck, HttpCheck, Probe, TcpCheck
from tiation.redact import redact
from tiation.targets.base import Endpoint

if TYPE_CHECKING:
    import httpx

_DETAIL_MAX = 200


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one probe run."""

    probe: str
    ok: bool
    detail: str
    latency: float
    """Seconds the check took (monotonic clock)."""
    at: datetime
    """When the check started."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form."""
        return {
            "probe": self.probe,
            "ok": self.ok,
            "detail": self.detail,
            "latency": round(self.latency, 6),
            "at": self.at.isoformat(),
        }


def run_probe(
    probe: Probe, endpoint: Endpoint, *, version: str, clock: Clock, http: httpx.Client | None = None
) -> ProbeResult:
    """Run `probe` once against `endpoint`; `http` is an optional client to reuse for http checks."""
    at = clock.now()
    start = clock.monotonic()
    timeout = probe.timeout.total_seconds()
    if probe.http is not None:
        ok, detail = _http(probe.http, endpoint, timeout, http)
    elif probe.tcp is not None:
        ok, detail = _tcp(probe.tcp, endpoint, timeout)
    else:
        assert probe.command is not None
        ok, detail = _command(probe.command, endpoint, version, timeout)
    latency = max(0.0, clock.monotonic() - start)
    if ok and probe.http is not None and probe.http.latency_budget is not None:
        budget = probe.http.latency_budget.total_seconds()
        if latency > budget:
            ok, detail = False, f"took {_ms(latency)} (budget {_ms(budget)})"
    detail = redact(detail)
    if len(detail) > _DETAIL_MAX:
        detail = detail[: _DETAIL_MAX - 3] + "..."
    return ProbeResult(probe=probe.label, ok=ok, detail=detail, latency=latency, at=at)


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000)} ms"


def _timed_out(timeout: float) -> str:
    return "timed out after " + format_duration(timedelta(seconds=timeout))


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _http(
    check: HttpCheck, endpoint: Endpoint, timeout: float, client: httpx.Client | None
) -> tuple[bool, str]:
    import httpx

    url = f"http://{_host(endpoint.host)}:{check.port or endpoint.port}{check.path}"
    own = client is None
    if client is None:
        client = httpx.Client(trust_env=False, follow_redirects=False)
    try:
        response = client.get(url, timeout=timeout, follow_redirects=False)
    except httpx.TimeoutException:
        return False, _timed_out(timeout)
    except httpx.ConnectError as exc:
        return False, _connect_failure(exc)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return False, f"request failed: {exc or type(exc).__name__}"
    finally:
        if own:
            client.close()
    if response.status_code not in check.expect_status:
        expected = " or ".join(str(s) for s in check.expect_status)
        return False, f"status {response.status_code} (expected {expected})"
    if check.body_contains is not None and check.body_contains not in response.text:
        return False, f"body does not contain {check.body_contains!r}"
    return True, f"status {response.status_code}"


def _connect_failure(exc: BaseException) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower():
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    return f"cannot connect: {exc}"


def _tcp(check: TcpCheck, endpoint: Endpoint, timeout: float) -> tuple[bool, str]:
    port = check.port or endpoint.port
    try:
        with socket.create_connection((endpoint.host, port), timeout=timeout):
            return True, f"connected to port {port}"
    except ConnectionRefusedError:
        return False, "connection refused"
    except TimeoutError:
        return False, _timed_out(timeout)
    except OSError as exc:
        return False, f"cannot connect: {exc.strerror or exc}"


def _command(check: CommandCheck, endpoint: Endpoint, version: str, timeout: float) -> tuple[bool, str]:
    values = {"{host}": endpoint.host, "{port}": str(endpoint.port), "{version}": version}
    args = []
    for arg in check.command:
        for placeholder, value in values.items():
            arg = arg.replace(placeholder, value)
        args.append(arg)
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, errors="replace", timeout=timeout, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        return False, f"command not found: {args[0]}"
    except PermissionError:
        return False, f"cannot run {args[0]}: permission denied"
    except subprocess.TimeoutExpired:
        return False, _timed_out(timeout)
    except OSError as exc:
        return False, f"cannot run {args[0]}: {exc.strerror or exc}"
    if done.returncode != check.expect_exit:
        detail = f"exit code {done.returncode} (expected {check.expect_exit})"
        output = (done.stderr or done.stdout).strip().splitlines()
        return False, detail + (f": {output[-1].strip()}" if output else "")
    return True, f"exit code {done.returncode}"
