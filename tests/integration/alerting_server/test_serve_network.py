"""`tiation serve` and the network: a busy port fails at once with one line; `X-Forwarded-For` is believed only
from the configured proxies."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_kit import Serve, StartServe, clean_env, free_port, servers, wait_for

from tiation.server.auth import token_digest

pytestmark = pytest.mark.integration

TOKEN = "network-intake-token-1c4f"
PLATFORM = f"""\
version: 1
project: {{name: serve-network}}
environments: {{production: {{target: fake}}}}
services: {{cms: {{port: 5000}}}}
server: {{host: 127.0.0.1, port: {{port}}TRUSTED}}
alerting:
  intake:
    generic: {{tokens_sha256: ["{token_digest(TOKEN)}"]}}
  severities:
    warning: {{channels: [], escalation_delay: none}}
  default_severity: warning
"""
SPOOFED = "203.0.113.9"


@pytest.fixture
def start(tmp_path: Path) -> Iterator[StartServe]:
    with servers(tmp_path / "serve") as start_serve:
        yield start_serve


def platform(trusted: str = "") -> str:
    return PLATFORM.replace("TRUSTED", f", trusted_proxies: {trusted}" if trusted else "")


def tiation(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`tiation -f tiation.yaml ARGS…` in `home`, with a clean environment."""
    return subprocess.run(
        [sys.executable, "-m", "tiation", "-f", "tiation.yaml", *args],
        cwd=home,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def post_forwarded(serve: Serve) -> None:
    response = httpx.post(
        serve.base + "/api/v1/intake/generic",
        json={"labels": {"alertname": "Forwarded"}},
        headers={"Authorization": f"Bearer {TOKEN}", "X-Forwarded-For": SPOOFED},
        timeout=10,
    )
    assert response.status_code == 202, response.text


def access_lines(serve: Serve) -> list[str]:
    """The intake's access-log lines, once there is one (the line is written just after the answer is sent)."""

    def lines() -> list[str]:
        return [line for line in serve.log().splitlines() if "POST /api/v1/intake/generic" in line]

    found: list[str] = wait_for("the access log line", lines, timeout=10)
    return found


def test_a_busy_port_is_one_error_line_and_a_non_zero_exit_before_anything_starts(tmp_path: Path) -> None:
    home = tmp_path / "busy"
    home.mkdir()
    (home / "tiation.yaml").write_text(platform().replace("{port}", str(free_port())))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        proc = tiation(home, "serve", "--port", str(busy))
    assert proc.returncode != 0
    output = (proc.stdout + proc.stderr).strip()
    assert output == f"error: cannot listen on 127.0.0.1:{busy}: address already in use", output
    assert "serving" not in output
    assert "startup complete" not in output.lower()


def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(start: StartServe) -> None:
    untrusted = start(platform(), env={"FORWARDED_ALLOW_IPS": "*"})
    post_forwarded(untrusted)
    (line,) = access_lines(untrusted)
    assert " 127.0.0.1 POST " in line and SPOOFED not in line, line

    trusted = start(platform("[127.0.0.0/8, 10.1.2.3]"))
    post_forwarded(trusted)
    (line,) = access_lines(trusted)
    assert f" {SPOOFED} POST " in line, line


def test_trusted_proxies_must_be_addresses_or_networks(tmp_path: Path) -> None:
    home = tmp_path / "bad"
    home.mkdir()
    (home / "tiation.yaml").write_text(platform("[proxy.example]").replace("{port}", str(free_port())))
    proc = tiation(home, "validate")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "server.trusted_proxies" in proc.stderr
    assert "expected IP addresses or CIDR networks" in proc.stderr
