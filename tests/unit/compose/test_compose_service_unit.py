"""One service builder: the compose target's create body and `render compose` say the same container."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fixtures.compose_check import load_compose
from fixtures.kustomize import write_container_platform
from tiation.config.loader import load_platform
from tiation.deploy.release import build_release
from tiation.render.compose import render_compose
from tiation.secrets import SecretRef
from tiation.targets.base import Release
from tiation.targets.compose.container import create_body
from tiation.targets.compose.file import ComposeInstance, compose_file, instance_definition, labels_of
from tiation.targets.compose.target import compose_yaml

TCP = {"kind": "tcp", "interval_s": 0.5, "timeout_s": 2.0, "initial_delay_s": 3.0, "failure_threshold": 4}


def _ns(duration: str) -> int:
    match = re.fullmatch(r"(\d+)(ms|s)", duration)
    assert match is not None, duration
    return int(match.group(1)) * (1_000_000 if match.group(2) == "ms" else 1_000_000_000)


def _unescape(value: str) -> str:
    return value.replace("$$", "$")


def assert_same_container(body: dict[str, Any], service: dict[str, Any]) -> None:
    """An Engine API create body and a compose-file service agree on healthcheck, env names and command."""
    check, health = body.get("Healthcheck"), service.get("healthcheck")
    assert (check is None) == (health is None), (check, health)
    if check is not None and health is not None:
        assert check["Test"] == [_unescape(a) for a in health["test"]]
        assert check["Interval"] == _ns(health["interval"]) and check["Timeout"] == _ns(health["timeout"])
        assert check["Retries"] == health["retries"]
        assert check.get("StartPeriod") == (_ns(health["start_period"]) if "start_period" in health else None)
    assert sorted(e.split("=", 1)[0] for e in body["Env"]) == sorted(service["environment"])
    assert body.get("Cmd") == ([_unescape(a) for a in service["command"]] if "command" in service else None)
    assert body["Image"] == _unescape(service["image"])


def _target_side(release: Release, port: int) -> dict[str, Any]:
    inst = ComposeInstance("20260101t000000-ab12", "p-x-1", "p", "127.0.0.1", port, Path("/r/config"))
    definition = instance_definition(release, inst)
    values = dict.fromkeys(definition.secret_refs, "value")
    return create_body(definition, inst, labels_of(release, inst), values)


def test_the_target_and_render_build_the_same_container(tmp_path: Path) -> None:
    loaded = load_platform(write_container_platform(tmp_path))
    platform, root = loaded.platform, loaded.root
    files = render_compose(platform, root, source="tiation.yaml").files
    for env in ("dev", "staging", "production"):
        rendered = load_compose(next(f.content for f in files if f.name == f"docker-compose.{env}.yml"))
        for name in ("api", "web"):  # http probes
            release = build_release(platform, root, env, name, platform.services[name].default_version or "")
            service = rendered["services"][name]
            # same port as the rendered file: the target's instances get their own free port instead
            assert_same_container(_target_side(release, platform.service_in(env, name).port), service)
            assert service["healthcheck"]["test"][0] == "CMD-SHELL"
        # A command probe (db) is a Docker check only in the rendered file: the target runs it on the host.
        db = build_release(platform, root, env, "db", "15.4")
        assert "Healthcheck" not in _target_side(db, 5432)
        assert rendered["services"]["db"]["healthcheck"]["test"] == ["CMD", "pg_isready", "-p", "5432"]


def test_command_env_and_tcp_check_agree_in_the_body_and_the_instance_file() -> None:
    release = Release(
        "dev",
        "web",
        "1.0.0",
        ("serve", "--port", "{port}", "--price", "$5"),
        8080,
        env={"TOKEN": SecretRef("env:TOK"), "MODE": "a$b"},
        image="app:1",
        workload={"probes": [TCP]},
    )
    inst = ComposeInstance("20260101t000000-ab12", "p-web-x", "p", "127.0.0.1", 41000, Path("/r/config"))
    body = _target_side(release, 41000)
    service = compose_file(release, inst)[0]["services"]["web"]
    assert_same_container(body, service)
    assert body["Cmd"] == ["serve", "--port", "41000", "--price", "$5"]
    assert body["Healthcheck"] == {
        "Test": ["CMD-SHELL", "nc -z 127.0.0.1 41000 || exit 1"],
        "Interval": 500_000_000,
        "Timeout": 2_000_000_000,
        "Retries": 4,
        "StartPeriod": 3_000_000_000,
    }
    assert service["healthcheck"]["start_period"] == "3s"


def test_create_body_host_network_mount_labels_and_secret_only_in_env() -> None:
    release = Release(
        "dev", "web", "1.0.0", (), 8080, env={"DB_PASSWORD": SecretRef("env:PW")}, stop_timeout=2.5,
        image="app:1", workload={"resources": {"limits": {"cpu": "250m", "memory": "128Mi"}}},
    )  # fmt: skip
    inst = ComposeInstance("20260101t000000-ab12", "p-web-x", "p", "127.0.0.1", 41000, Path("/r/config"))
    definition = instance_definition(release, inst)
    body = create_body(definition, inst, labels_of(release, inst), {"DB_PASSWORD": "planted-pw"})
    assert "DB_PASSWORD=planted-pw" in body["Env"] and "PORT=41000" in body["Env"]
    assert "TIATION_CONFIG_DIR=/tiation/config" in body["Env"]
    assert str(body).count("planted-pw") == 1  # nowhere but its Env entry
    host = body["HostConfig"]
    assert host["NetworkMode"] == "host"
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 0}
    assert host["Mounts"] == [
        {"Type": "bind", "Source": "/r/config", "Target": "/tiation/config", "ReadOnly": True}
    ]
    assert (host["NanoCpus"], host["Memory"]) == (250_000_000, 128 * 2**20)
    assert body["StopTimeout"] == 3
    assert body["Labels"]["tiation.version"] == "1.0.0"
    assert body["Labels"]["com.docker.compose.project"] == "p-web-x"
    assert body["Labels"]["com.docker.compose.service"] == "web"
    assert "Cmd" not in body and "Healthcheck" not in body


@pytest.mark.parametrize("env", ["dev", "staging", "production"])
def test_rendered_files_are_valid_compose(tmp_path: Path, env: str) -> None:
    loaded = load_platform(write_container_platform(tmp_path))
    files = render_compose(loaded.platform, loaded.root, source="tiation.yaml").files
    load_compose(next(f.content for f in files if f.name == f"docker-compose.{env}.yml"))


def test_the_instance_file_is_valid_compose() -> None:
    resources = {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"memory": "1G"}}
    release = Release(
        "dev", "web", "1.0.0", ("serve",), 8080, env={"T": SecretRef("env:T")}, image="app:1",
        workload={"probes": [TCP], "resources": resources},
    )  # fmt: skip
    inst = ComposeInstance("20260101t000000-ab12", "p-web-x", "p", "127.0.0.1", 41000, Path("/r/config"))
    load_compose(compose_yaml(compose_file(release, inst)[0]))


def test_a_local_environment_renders_the_images_own_command() -> None:
    example = Path(__file__).resolve().parents[3] / "examples" / "ecosystem" / "tiation.yaml"
    loaded = load_platform(example)
    assert any(env.target == "local" for env in loaded.platform.environments.values())
    files = render_compose(loaded.platform, loaded.root, source="tiation.yaml").files
    composed = [load_compose(f.content) for f in files if f.name.endswith(".yml")]
    assert composed and all("command" not in s for c in composed for s in c["services"].values())
