"""Rendered compose files checked as `compose config` would: the official Compose specification schema, then
interpolation with only the given environment (`fixtures.compose_check`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fixtures.compose_check import ComposeFileError, compose_config
from fixtures.kustomize import tiation_cli, write_container_platform, write_tree
from tiation.config.loader import load_platform
from tiation.render.compose import render_compose

pytestmark = pytest.mark.integration

SECRETS = {"SHOP_DATABASE_URL": "postgres://shop:planted-pw-1@db/shop", "POSTGRES_PASSWORD": "planted-pw-2"}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    loaded = load_platform(write_container_platform(tmp_path / "platform"))
    directory = tmp_path / "compose"
    write_tree(directory, render_compose(loaded.platform, loaded.root, source="tiation.yaml").files)
    return directory


def _config(file: Path) -> dict[str, Any]:
    # valid against the schema, and every variable set (an unset one without a default is an error here)
    return compose_config(file, SECRETS)


@pytest.mark.parametrize("env", ["dev", "staging", "production"])
def test_every_environment_file_is_valid_compose(out: Path, env: str) -> None:
    file = out / f"docker-compose.{env}.yml"
    config = _config(file)
    services = config["services"]
    assert sorted(services) == ["api", "db", "web"]
    assert services["api"]["image"] == "registry.example.com:5000/shop/api:1.4.2"
    assert services["db"]["image"] == "postgres:15.4"
    assert {s["restart"] for s in services.values()} == {"unless-stopped"}
    assert set(config["networks"]) == {"shop-network"}
    assert all(set(s["networks"]) == {"shop-network"} for s in services.values())
    assert set(services["web"]["depends_on"]) == {"api"} and set(services["api"]["depends_on"]) == {"db"}
    api = services["api"]
    # secret references are interpolated from the environment; the file itself holds none of the values
    assert api["environment"]["DATABASE_URL"] == SECRETS["SHOP_DATABASE_URL"]
    assert services["db"]["environment"]["POSTGRES_PASSWORD"] == SECRETS["POSTGRES_PASSWORD"]
    text = file.read_text()
    assert not [v for v in SECRETS.values() if v in text]
    # a literal `$` is written `$$` (unescaped, `$5` is an "Invalid interpolation format"): the container gets `$5`
    assert "costs $$5" in text
    assert api["environment"]["GREETING"] == "costs $5"
    assert api["volumes"] == ["./config/api:/etc/tiation/config:ro"]  # relative to the compose file
    assert (file.parent / "config" / "api" / "app.toml").read_text() == 'version = "1.4.2"\n'
    assert api["deploy"]["resources"]["limits"]["memory"] == "256m"
    assert services["db"]["healthcheck"]["test"] == ["CMD", "pg_isready", "-p", "5432"]
    assert services["db"]["healthcheck"]["start_period"] == "2s"


def test_environment_overrides_reach_the_compose_file(out: Path) -> None:
    staging = _config(out / "docker-compose.staging.yml")["services"]["api"]
    assert staging["environment"]["LOG_LEVEL"] == "debug"
    assert staging["environment"]["PORT"] == "9090"
    assert staging["ports"] == ["127.0.0.1:9090:9090"]
    assert staging["healthcheck"]["test"] == [
        "CMD-SHELL",
        "wget -q -O /dev/null http://127.0.0.1:9090/healthz || exit 1",
    ]
    assert staging["healthcheck"]["retries"] == 5
    web = _config(out / "docker-compose.production.yml")["services"]["web"]
    assert web["healthcheck"]["test"][1] == "wget -q -O /dev/null http://127.0.0.1:3000/ready || exit 1"
    assert web["healthcheck"]["interval"] == "500ms"


def test_a_missing_secret_variable_stops_compose(out: Path) -> None:
    with pytest.raises(ComposeFileError, match="SHOP_DATABASE_URL is not set"):
        compose_config(out / "docker-compose.dev.yml", {"POSTGRES_PASSWORD": "x"})


def test_cli_renders_compose_files_and_names_the_variables(tmp_path: Path) -> None:
    platform = write_container_platform(tmp_path / "platform")
    out = tmp_path / "compose"
    run = tiation_cli("-f", str(platform), "render", "compose", "--out", str(out), "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["kind"] == "compose"
    assert report["variables"]["staging"] == ["POSTGRES_PASSWORD", "SHOP_DATABASE_URL"]
    assert sorted(Path(f["path"]).name for f in report["files"]) == [
        "app.toml",
        "docker-compose.dev.yml",
        "docker-compose.production.yml",
        "docker-compose.staging.yml",
    ]
    assert _config(out / "docker-compose.staging.yml")["services"]["api"]["image"].endswith(":1.4.2")
