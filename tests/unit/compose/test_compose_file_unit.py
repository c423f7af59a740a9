"""The compose file of one instance, as data: secrets as variables, escaping, healthcheck, resources."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiation.errors import TargetError
from tiation.secrets import SecretRef
from tiation.targets.base import Release
from tiation.targets.compose.file import (
    ComposeInstance,
    compose_file,
    compose_project,
    cpus,
    memory_bytes,
)
from tiation.targets.compose.service import compose_healthcheck, healthcheck_of

INST = ComposeInstance("20260101t000000-ab12", "p-web-x", "p", "127.0.0.1", 41000, Path("/r/config"))


def release(**kw: object) -> Release:
    base: dict[str, object] = {
        "environment": "dev",
        "service": "web",
        "version": "1.0.0",
        "command": (),
        "port": 8080,
        "image": "app:1.0.0",
    }
    base.update(kw)
    return Release(**base)  # type: ignore[arg-type]


def test_secrets_are_variables_and_other_dollars_are_escaped() -> None:
    rel = release(env={"B_TOKEN": SecretRef("env:TOK"), "A_PLAIN": "x$y", "C_PW": SecretRef("file:pw")})
    doc, secrets = compose_file(rel, INST)
    env = doc["services"]["web"]["environment"]
    assert env["A_PLAIN"] == "x$$y"
    assert env["B_TOKEN"] == "${TIATION_SECRET_0}" and env["C_PW"] == "${TIATION_SECRET_1}"
    assert secrets == {"TIATION_SECRET_0": SecretRef("env:TOK"), "TIATION_SECRET_1": SecretRef("file:pw")}
    assert env["PORT"] == "41000"


def test_service_shape_labels_mount_and_command() -> None:
    rel = release(command=("serve", "--port", "{port}", "--conf", "{config_dir}/app.conf"), stop_timeout=2.5)
    service = compose_file(rel, INST)[0]["services"]["web"]
    assert service["network_mode"] == "host" and service["restart"] == "on-failure"
    assert service["container_name"] == "p-web-x"
    assert service["command"] == ["serve", "--port", "41000", "--conf", "/tiation/config/app.conf"]
    assert service["volumes"] == [
        {"type": "bind", "source": "/r/config", "target": "/tiation/config", "read_only": True}
    ]
    assert service["stop_grace_period"] == "3s"
    assert service["labels"]["tiation.digest"] == rel.digest
    assert service["labels"]["tiation.version"] == "1.0.0"
    assert "command" not in compose_file(release(), INST)[0]["services"]["web"]


def test_healthcheck_from_the_first_probe() -> None:
    http = {"kind": "http", "path": "/health", "interval_s": 0.25, "timeout_s": 1, "failure_threshold": 4}
    probe = healthcheck_of(http, "127.0.0.1", 41000)
    assert probe is not None
    check = compose_healthcheck(probe)
    assert check["test"][0] == "CMD-SHELL" and "http://127.0.0.1:41000/health" in check["test"][1]
    assert (check["interval"], check["timeout"], check["retries"]) == ("250ms", "1s", 4)
    tcp = healthcheck_of({"kind": "tcp", "port": 9000}, "127.0.0.1", 41000)
    assert tcp is not None and tcp.test[1] == "nc -z 127.0.0.1 9000 || exit 1"
    # A command probe runs on the deploying host: the instance's container gets no Docker healthcheck for it.
    rel = release(workload={"probes": [{"kind": "command", "command": ["true"]}]})
    assert "healthcheck" not in compose_file(rel, INST)[0]["services"]["web"]
    assert "healthcheck" not in compose_file(release(), INST)[0]["services"]["web"]


def test_resources_and_quantities() -> None:
    rel = release(
        workload={"resources": {"limits": {"cpu": "250m", "memory": "128Mi"}, "requests": {"memory": "1G"}}}
    )
    service = compose_file(rel, INST)[0]["services"]["web"]
    assert (service["cpus"], service["mem_limit"], service["mem_reservation"]) == (0.25, 128 * 2**20, 10**9)
    assert cpus("2") == 2.0 and memory_bytes("1.5Ki") == 1536
    with pytest.raises(TargetError):
        memory_bytes("lots")


def test_project_names_and_missing_image() -> None:
    assert compose_project("My.Proj", "web", "20260101T000000-AB12") == "myproj-web-20260101t000000-ab12"
    with pytest.raises(TargetError, match="has no image"):
        compose_file(release(image=None), INST)
