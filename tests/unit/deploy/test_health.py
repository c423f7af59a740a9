"""Health probes against real local servers and processes."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from fixtures.common import free_port
from tiation.clock import FakeClock
from tiation.config.models import Probe
from tiation.deploy.health import ProbeResult, run_probe
from tiation.redact import register_secret
from tiation.targets.base import Endpoint

RELEASE = threading.Event()  # set at teardown so a sleeping handler finishes at once


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, str]] = {
        "/health": (200, "all ok"),
        "/down": (503, "down"),
        "/wrong-body": (200, "starting"),
        "/created": (201, "ok"),
    }

    def do_GET(self) -> None:
        if self.path == "/slow":
            RELEASE.wait(5)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/health")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, body = self.routes.get(self.path, (404, "not found"))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client of /slow hangs up before the answer; that is the point


@pytest.fixture
def server() -> Iterator[Endpoint]:
    RELEASE.clear()
    httpd = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield Endpoint("127.0.0.1", httpd.server_address[1])
    RELEASE.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


class SteppingClock(FakeClock):
    """Each monotonic() reading moves time forward by `step` seconds."""

    def __init__(self, step: float) -> None:
        super().__init__()
        self.step = step

    def monotonic(self) -> float:
        value = super().monotonic()
        self.advance(self.step)
        return value


def probe(**spec: Any) -> Probe:
    return Probe.model_validate(spec)


def run(p: Probe, endpoint: Endpoint, clock: FakeClock | None = None, **kw: Any) -> ProbeResult:
    return run_probe(p, endpoint, version="v1.2", clock=clock or FakeClock(), **kw)


# -- http -------------------------------------------------------------------------------------------------


def test_http_ok(server: Endpoint) -> None:
    clock = FakeClock()
    result = run(probe(http={"path": "/health", "body_contains": "ok"}), server, clock)
    assert result == ProbeResult("http /health", True, "status 200", 0.0, clock.now())


def test_http_unexpected_status(server: Endpoint) -> None:
    result = run(probe(http={"path": "/down"}), server)
    assert (result.ok, result.detail) == (False, "status 503 (expected 200)")


def test_http_several_expected_statuses(server: Endpoint) -> None:
    result = run(probe(http={"path": "/down", "expect_status": [200, 204]}), server)
    assert result.detail == "status 503 (expected 200 or 204)"
    assert run(probe(http={"path": "/created", "expect_status": [200, 201]}), server).ok


def test_http_body_check(server: Endpoint) -> None:
    result = run(probe(http={"path": "/wrong-body", "body_contains": "ok"}), server)
    assert (result.ok, result.detail) == (False, "body does not contain 'ok'")


def test_http_redirect_is_not_followed(server: Endpoint) -> None:
    result = run(probe(http={"path": "/redirect"}), server)
    assert (result.ok, result.detail) == (False, "status 302 (expected 200)")


def test_http_connection_refused() -> None:
    result = run(probe(http={}), Endpoint("127.0.0.1", free_port()))
    assert (result.ok, result.detail) == (False, "connection refused")


def test_http_timeout(server: Endpoint) -> None:
    result = run(probe(http={"path": "/slow"}, timeout="200ms"), server)
    assert (result.ok, result.detail) == (False, "timed out after 200ms")


def test_http_probe_port_overrides_the_endpoint_port(server: Endpoint) -> None:
    result = run(probe(http={"path": "/health", "port": server.port}), Endpoint("127.0.0.1", free_port()))
    assert result.ok


def test_http_ignores_proxy_settings(server: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert run(probe(http={"path": "/health"}), server).ok


def test_http_latency_budget(server: Endpoint) -> None:
    spec = {"http": {"path": "/health", "latency_budget": "500ms"}}
    slow = run(probe(**spec), server, SteppingClock(0.812))
    assert (slow.ok, slow.detail) == (False, "took 812 ms (budget 500 ms)")
    assert slow.latency == pytest.approx(0.812)
    fast = run(probe(**spec), server, SteppingClock(0.2))
    assert fast.ok


def test_http_reuses_a_given_client(server: Endpoint) -> None:
    with httpx.Client(trust_env=False) as client:
        first = run(probe(http={"path": "/health"}), server, http=client)
        second = run(probe(http={"path": "/down"}), server, http=client)
        assert not client.is_closed
    assert (first.ok, second.detail) == (True, "status 503 (expected 200)")


# -- tcp --------------------------------------------------------------------------------------------------


def test_tcp_ok(server: Endpoint) -> None:
    result = run(probe(tcp={}), server)
    assert (result.ok, result.detail) == (True, f"connected to port {server.port}")


def test_tcp_refused() -> None:
    result = run(probe(tcp={}), Endpoint("127.0.0.1", free_port()))
    assert (result.ok, result.detail, result.probe) == (False, "connection refused", "tcp")


# -- command ----------------------------------------------------------------------------------------------


def _python(code: str, *args: str) -> dict[str, Any]:
    return {"command": {"command": [sys.executable, "-c", code, *args]}}


def test_command_gets_host_port_and_version_substituted() -> None:
    code = "import sys; sys.exit(0 if sys.argv[1:] == ['10.0.0.5', '8080', 'v1.2', 'x{other}'] else 3)"
    result = run(
        probe(**_python(code, "{host}", "{port}", "{version}", "x{other}")), Endpoint("10.0.0.5", 8080)
    )
    assert (result.ok, result.detail) == (True, "exit code 0")


def test_command_unexpected_exit_code_shows_the_last_error_line() -> None:
    code = (
        "import sys; print('checking', file=sys.stderr); print('db not ready', file=sys.stderr); sys.exit(2)"
    )
    result = run(probe(**_python(code)), Endpoint("127.0.0.1", 1))
    assert (result.ok, result.detail) == (False, "exit code 2 (expected 0): db not ready")


def test_command_expected_exit_code() -> None:
    spec = _python("raise SystemExit(4)")
    spec["command"]["expect_exit"] = 4
    assert run(probe(**spec), Endpoint("127.0.0.1", 1)).ok


def test_command_not_found() -> None:
    result = run(probe(command={"command": ["tiation-no-such-command"]}), Endpoint("127.0.0.1", 1))
    assert (result.ok, result.detail) == (False, "command not found: tiation-no-such-command")


def test_command_timeout() -> None:
    result = run(probe(**_python("import time; time.sleep(10)"), timeout="300ms"), Endpoint("127.0.0.1", 1))
    assert (result.ok, result.detail) == (False, "timed out after 300ms")


def test_command_output_is_redacted() -> None:
    register_secret("hunter2-value")
    code = "import sys; print('login failed for hunter2-value', file=sys.stderr); sys.exit(1)"
    result = run(probe(**_python(code)), Endpoint("127.0.0.1", 1))
    assert result.detail == "exit code 1 (expected 0): login failed for <secret>"


# -- result -----------------------------------------------------------------------------------------------


def test_result_to_dict() -> None:
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    result = ProbeResult("http /health", False, "status 503 (expected 200)", 0.0123456789, at)
    assert result.to_dict() == {
        "probe": "http /health",
        "ok": False,
        "detail": "status 503 (expected 200)",
        "latency": 0.012346,
        "at": "2026-01-01T12:00:00+00:00",
    }


def test_named_probe_uses_its_name() -> None:
    result = run(probe(name="ready", tcp={}), Endpoint("127.0.0.1", free_port()))
    assert result.probe == "ready"
