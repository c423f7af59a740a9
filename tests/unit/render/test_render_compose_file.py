"""`render_compose`: compose files per environment, as data (schema and interpolation checks are in integration)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from fixtures.kustomize import write_container_platform
from tiation.config.loader import LoadedPlatform, load_platform
from tiation.config.models import CommandCheck, Health, HttpCheck, Probe, Service, TcpCheck
from tiation.deploy.release import workload_of
from tiation.render.compose import MARKER, memory, render_compose
from tiation.targets.base import Release
from tiation.targets.compose.service import LOOPBACK, compose_healthcheck, service_definition


@pytest.fixture
def loaded(tmp_path: Path) -> LoadedPlatform:
    return load_platform(write_container_platform(tmp_path))


def _render(loaded: LoadedPlatform) -> dict[str, str]:
    return {
        f.name: f.content for f in render_compose(loaded.platform, loaded.root, source="tiation.yaml").files
    }


def _load(text: str) -> Any:
    return YAML(typ="safe").load(text)


def healthcheck(probe: Probe, port: int) -> dict[str, Any]:
    """The compose healthcheck `render compose` writes for a service whose first probe is `probe`."""
    service = Service(port=port, image="app", health=Health(probes=[probe]))
    release = Release("dev", "app", "1", (), port, image="app", workload=workload_of(service))
    definition = service_definition(release, host=LOOPBACK, port=port, config_dir="/c", command_probes=True)
    assert definition.healthcheck is not None
    return compose_healthcheck(definition.healthcheck)


def test_one_file_per_environment_and_the_config_files(loaded: LoadedPlatform) -> None:
    files = _render(loaded)
    assert set(files) == {
        "docker-compose.dev.yml",
        "docker-compose.staging.yml",
        "docker-compose.production.yml",
        "config/api/app.toml",
    }
    assert files["config/api/app.toml"] == 'version = "1.4.2"\n'
    dev = files["docker-compose.dev.yml"]
    assert dev.startswith(f"# {MARKER} from tiation.yaml")
    assert "# Run: docker-compose -p shop-dev -f docker-compose.dev.yml up -d" in dev
    assert (
        "# Run: docker-compose -p shop-staging -f docker-compose.staging.yml up -d"
        in files["docker-compose.staging.yml"]
    )
    assert "api: env_secrets (api-extra) are Kubernetes Secrets" in dev


def test_the_seed_shape(loaded: LoadedPlatform) -> None:
    data = _load(_render(loaded)["docker-compose.production.yml"])
    assert list(data) == ["version", "services", "networks"]
    assert data["version"] == "3.8"
    assert data["networks"] == {"shop-network": {"driver": "bridge"}}
    api = data["services"]["api"]
    assert api["restart"] == "unless-stopped"
    assert api["networks"] == ["shop-network"]
    assert api["depends_on"] == ["db"]
    assert api["ports"] == ["127.0.0.1:8080:8080"]
    assert api["volumes"] == ["./config/api:/etc/tiation/config:ro"]
    assert api["deploy"] == {
        "resources": {
            "limits": {"cpus": "1", "memory": "256m"},
            "reservations": {"cpus": "0.25", "memory": "128m"},
        }
    }
    assert "volumes" not in data["services"]["web"] and "deploy" not in data["services"]["web"]


def test_secrets_become_required_interpolations_and_literals_are_escaped(loaded: LoadedPlatform) -> None:
    result = render_compose(loaded.platform, loaded.root, source="tiation.yaml")
    data = _load(next(f.content for f in result.files if f.name == "docker-compose.dev.yml"))
    env = data["services"]["api"]["environment"]
    assert env["DATABASE_URL"] == "${SHOP_DATABASE_URL:?SHOP_DATABASE_URL is not set}"  # env:NAME reads NAME
    assert env["GREETING"] == "costs $$5"
    assert env["PORT"] == "8080" and env["MODE"] == "on"
    # a file: reference reads a variable named after the key
    assert data["services"]["db"]["environment"]["POSTGRES_PASSWORD"] == (
        "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is not set}"
    )
    assert result.variables["dev"] == ["POSTGRES_PASSWORD", "SHOP_DATABASE_URL"]
    assert "secrets/db-password" not in str(data)


@pytest.mark.parametrize(
    ("probe", "test"),
    [
        (
            Probe(http=HttpCheck(path="/h")),
            ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/h || exit 1"],
        ),
        (
            Probe(http=HttpCheck(path="/h", port=9)),
            ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:9/h || exit 1"],
        ),
        (Probe(tcp=TcpCheck()), ["CMD-SHELL", "nc -z 127.0.0.1 8080 || exit 1"]),
        (
            Probe(command=CommandCheck(command=["check", "{host}:{port}", "$HOME"])),
            ["CMD", "check", "127.0.0.1:8080", "$$HOME"],
        ),
    ],
)
def test_healthcheck_from_the_first_probe(probe: Probe, test: list[str]) -> None:
    check = healthcheck(probe, 8080)
    assert check["test"] == test
    assert (check["interval"], check["timeout"], check["retries"]) == ("1s", "1s", 3)
    assert "start_period" not in check


def test_healthcheck_timing() -> None:
    probe = Probe(
        tcp=TcpCheck(),
        interval=timedelta(milliseconds=250),
        timeout=timedelta(seconds=90),
        initial_delay=timedelta(seconds=5),
        failure_threshold=7,
    )
    check = healthcheck(probe, 1)
    assert (check["interval"], check["timeout"], check["retries"], check["start_period"]) == (
        "250ms",
        "90s",
        7,
        "5s",
    )


@pytest.mark.parametrize(
    ("quantity", "out"),
    [
        ("128Mi", "128m"),
        ("1Gi", "1g"),
        ("64Ki", "64k"),
        ("0.5Gi", str(2**29)),
        ("1G", str(10**9)),
        ("500M", str(5 * 10**8)),
        ("1048576", "1048576"),
        ("1Ti", str(2**40)),
    ],
)
def test_memory_in_compose_notation(quantity: str, out: str) -> None:
    assert memory(quantity) == out
