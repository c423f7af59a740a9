"""The compose target through the real CLI: a platform file with `target: compose` on the test engine."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.common import free_port
from fixtures.docker import DockerEngine
from fixtures.eco import Eco
from tiation.clock import SystemClock
from tiation.targets.compose.target import ComposeTarget

SECRET = "planted-compose-cli-s3cret-77f0"
PLATFORM = """\
version: 1
project: {{name: ct}}
environments:
  dev:
    target: compose
    compose: {{docker_host: "{host}", project: {project}}}
  offline:
    target: compose
    compose: {{docker_host: "unix://{offline}"}}
services:
  web:
    port: {port}
    image: "tiation-test/cli:{{version}}"
    env:
      DB_PASSWORD: env:TIATION_TEST_COMPOSE_SECRET
    config:
      app.conf: "release {{version}}\\n"
    health:
      deadline: 15s
      probes:
        - http: {{path: /health}}
          interval: 300ms
          failure_threshold: 2
"""


@pytest.fixture
def project(tmp_path: Path, docker_engine: DockerEngine) -> Iterator[Eco]:
    for version, mode in (("1.0.0", "serve"), ("1.1.0", "serve"), ("2.0.0", "crash")):
        docker_engine.image(f"tiation-test/cli:{version}", version=version, mode=mode)
    root = tmp_path / "project"
    root.mkdir()
    name = f"ct{os.urandom(3).hex()}"
    (root / "tiation.yaml").write_text(
        PLATFORM.format(
            host=docker_engine.host, project=name, offline=tmp_path / "none.sock", port=free_port()
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIATION_", "DOCKER_"))}
    env.update(
        TIATION_FILE=str(root / "tiation.yaml"), TIATION_ACTOR="alice", TIATION_TEST_COMPOSE_SECRET=SECRET
    )
    eco = Eco(root, env)
    try:
        yield eco
    finally:
        target = ComposeTarget(
            root / ".tiation", "dev", project=name, docker_host=docker_engine.host, clock=SystemClock()
        )
        target.stop("web")
        target.engine.close()
        assert docker_engine.containers(tiation_project=name) == []
        for output in eco.outputs:
            assert SECRET not in output


def public_version(eco: Eco) -> str:
    rows = eco.tiation("status", "dev", "--json").json()["services"]
    endpoint = next(r["endpoint"] for r in rows if r["service"] == "web")
    with urllib.request.urlopen(f"http://{endpoint}/", timeout=5) as resp:
        return str(json.loads(resp.read())["version"])


def test_deploy_crash_rollback_through_the_cli(project: Eco) -> None:
    project.tiation("deploy", "dev", "web", "1.0.0")
    assert public_version(project) == "1.0.0"

    run = project.tiation("deploy", "dev", "web", "2.0.0", "--json", expect=1)
    [outcome] = run.json()["outcomes"]
    assert outcome["status"] == "failed"
    assert outcome["verdict"] == "process exited with code 3"
    assert outcome["rolled_back_to"] == "1.0.0"
    assert public_version(project) == "1.0.0"
    why = project.tiation("why", outcome["deployment_id"], "--json").json()
    assert any(e["kind"] == "exited" and e["exit_code"] == 3 for e in why["evidence"]["events"])
    assert any("fatal: missing key 'site_url'" in line for line in why["evidence"]["log_tail"])

    project.tiation("deploy", "dev", "web", "1.1.0")
    assert public_version(project) == "1.1.0"
    assert "app 1.1.0 starting" in project.tiation("logs", "dev", "web").stdout
    back = project.tiation("rollback", "dev", "web", "--json").json()
    assert back["version"] == "1.0.0", "rollback skips the quarantined 2.0.0"
    assert public_version(project) == "1.0.0"


def test_unreachable_engine_is_one_line_through_the_cli(project: Eco, tmp_path: Path) -> None:
    run = project.tiation("deploy", "offline", "web", "1.0.0", expect=None)
    assert run.code != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert f"cannot reach the Docker engine at unix://{tmp_path / 'none.sock'}" in lines[0]
