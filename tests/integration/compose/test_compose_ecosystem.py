"""The example ecosystem deploys to a real Docker engine (its `dev` environment, target compose) through the CLI."""

from __future__ import annotations

import json
import urllib.request

from fixtures.docker import DockerEngine
from fixtures.eco import SECRET, Eco


def test_example_ecosystem_deploys_to_docker(eco: Eco, docker_engine: DockerEngine) -> None:
    services = ["liberation-system", "ai-agents", "cms", "terminal-workflows"]
    for svc in services:  # what examples/ecosystem/tiation.yaml names: tiation-example/<service>:{version}
        docker_engine.image(f"tiation-example/{svc}:1.0.0", version="1.0.0")
    engine = {"DOCKER_HOST": docker_engine.host}
    try:
        run = eco.tiation("deploy", "dev", "all", "--json", extra_env=engine)
        assert {o["service"]: o["status"] for o in run.json()["outcomes"]} == dict.fromkeys(
            services, "succeeded"
        )
        rows = eco.tiation("status", "dev", "--json", extra_env=engine).json()["services"]
        assert {r["service"]: r["version"] for r in rows} == dict.fromkeys(services, "1.0.0")
        for row in rows:  # each answers on its public port, from a container
            with urllib.request.urlopen(f"http://{row['endpoint']}/health", timeout=5) as resp:
                assert resp.status == 200
        containers = docker_engine.containers(tiation_environment="dev")
        assert sorted(c["Labels"]["tiation.service"] for c in containers) == sorted(services)
        assert all(c["State"] == "running" for c in containers)
        assert SECRET not in json.dumps(containers) and SECRET not in "".join(eco.outputs)
    finally:
        eco.tiation("stop", "dev", expect=None, extra_env=engine)
    assert docker_engine.containers(tiation_environment="dev") == []
