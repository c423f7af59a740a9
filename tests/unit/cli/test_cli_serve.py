"""`tiation serve`: wiring from the platform file to the app, and `serve token`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tiation.cli.main import main
from tiation.server.fake import RecordingIngestor

DIGEST = hashlib.sha256(b"t0ken-for-cli").hexdigest()
PLATFORM = f"""\
version: 1
project: {{name: shop}}
environments: {{dev: {{target: fake}}}}
services: {{db: {{port: 5000, default_version: "1.0"}}}}
server: {{host: 127.0.0.1, port: 18080}}
alerting:
  intake:
    generic: {{tokens_sha256: ["{DIGEST}"]}}
    pagerduty: {{hmac_secret: "env:CLI_SERVE_HMAC"}}
"""


def test_serve_token_prints_a_token_and_its_digest_line(capsys: pytest.CaptureFixture[str]) -> None:
    main(["serve", "token"])
    lines = capsys.readouterr().out.splitlines()
    token, digest_line = lines[0], lines[-1]
    assert len(token) >= 40
    assert digest_line.strip() == f'- "{hashlib.sha256(token.encode()).hexdigest()}"'
    main(["serve", "token", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["sha256"] == hashlib.sha256(data["token"].encode()).hexdigest()
    assert data["token"] != token


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "tiation.yaml"
    path.write_text(PLATFORM)
    monkeypatch.setenv("TIATION_FILE", str(path))
    return path


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("tiation.cli.commands.serve.build", lambda app: (RecordingIngestor(), [], [], None))
    monkeypatch.setattr(
        "tiation.server.run.serve",
        lambda app, host, port, **options: calls.append({"app": app, "host": host, "port": port, **options}),
    )
    monkeypatch.setattr("tiation.server.run.listen", lambda host, port: ("bound", host, port))
    monkeypatch.setattr("tiation.server.run.configure_logging", lambda **kwargs: None)
    return calls


def test_serve_builds_the_app_from_the_platform_file(
    platform: Path, served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLI_SERVE_HMAC", "cli-hmac-secret")
    main(["serve"])
    main(["serve", "--host", "127.0.0.2", "--port", "9999"])
    assert [(c["host"], c["port"]) for c in served] == [("127.0.0.1", 18080), ("127.0.0.2", 9999)]
    assert [c["sock"] for c in served] == [("bound", "127.0.0.1", 18080), ("bound", "127.0.0.2", 9999)]
    assert served[0]["trusted_proxies"] == []
    paths = {route.path for route in served[0]["app"].routes}
    assert {"/api/v1/intake/generic", "/api/v1/intake/pagerduty", "/healthz", "/metrics"} <= paths


def test_serve_refuses_an_unresolvable_hmac_secret_in_one_line(
    platform: Path,
    served: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("CLI_SERVE_HMAC", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["serve"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CLI_SERVE_HMAC" in err
    assert served == []
