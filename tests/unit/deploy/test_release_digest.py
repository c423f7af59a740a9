"""Typed probe specs in a release do not change the digest of any release built or stored before them.

The expected digests were computed on the code before probe specs were typed (the workload held plain dicts):
a digest that changes would make every stored release look new (approvals lost, quarantine forgotten,
`noop` deploys redone).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tiation.config.loader import load_platform
from tiation.config.models import Platform
from tiation.deploy.release import build_release
from tiation.secrets import SecretRef
from tiation.targets.base import Release
from tiation.targets.probes import CommandProbe, EngineProbe, HttpProbe, TcpProbe, Workload

PLATFORM = """\
version: 1
project: {name: shop}
environments:
  dev: {target: local}
  k8s: {target: kubernetes, kubernetes: {namespace: shop}}
  box: {target: compose}
services:
  web:
    port: 8080
    image: "registry.example/web:{version}"
    local: {command: [python, -m, http.server, "{port}"], stop_timeout: 5s}
    env: {MODE: prod}
    config: {app.json: '{"v": "{version}"}'}
    resources: {requests: {cpu: 250m, memory: 128Mi}, limits: {memory: 256Mi}}
    env_secrets: [web-extra]
    health:
      deadline: 45s
      probes:
        - {http: {path: /healthz, port: 8081, expect_status: [200, 204]}, interval: 2s, timeout: 500ms}
        - {tcp: {}, initial_delay: 1s, failure_threshold: 5}
        - {name: ready, command: {command: [check, "{port}", "{version}"]}, success_threshold: 2}
  worker:
    port: 9000
    replicas: 3
    image: "registry.example/worker:{version}"
    local: {command: [worker, --port, "{port}"]}
    health:
      probes: [{tcp: {port: 9001}}]
"""

# Computed before probe specs were typed, with this platform file and root /srv/shop, version 1.2.3.
PINNED = {
    ("dev", "web"): "sha256:fbb46cd031dce39edef0c295b7cafd3d7d48b7bfca71bb919371f74db925e4c7",
    ("dev", "worker"): "sha256:8cdd1b67728019f871645ff62068ba162d5deb2d3f9add2cbf38d54c069e0c26",
    ("k8s", "web"): "sha256:ad780058337cd5afbe912bf4da4105786a831c8a8d22f333e34bfc089c3ef677",
    ("k8s", "worker"): "sha256:a780a5b74e1bc20a7fef0e376d5e60c9c42661bc6af978b9f72102bfbbb3bc5a",
    ("box", "web"): "sha256:72f69d2ba40d8e9579c0bc98ea296c9dbf80a040589d76dea64c5ce2d9684c51",
    ("box", "worker"): "sha256:593d891f54d3ec3a8dfb1b3738680cbfea98a1fea5071a11e2324f0d8a643965",
}

# A release as the state store holds it (spec JSON written by the code before the change), with secret
# references of both kinds and every native probe kind; its digest as that code computed it.
STORED = json.loads(
    r"""{"command": [], "config": {"app.json": "{\"v\": \"1.2.3\"}"}, "cwd": null,
"env": {"DB_PW": {"base": "/srv/shop", "secret": "file:secrets/db.pw"}, "MODE": "prod",
"TOKEN": {"secret": "env:WEB_TOKEN"}}, "environment": "k8s", "image": "registry.example/web:1.2.3",
"port": 8080, "replicas": 1, "service": "web", "stop_timeout": 10.0, "version": "1.2.3",
"workload": {"deadline_s": 45.0, "env_secrets": ["web-extra"], "probes": [{"failure_threshold": 3,
"initial_delay_s": 0.0, "interval_s": 2.0, "kind": "http", "name": "http /healthz", "path": "/healthz",
"port": 8081, "success_threshold": 1, "timeout_s": 0.5}, {"failure_threshold": 5, "initial_delay_s": 1.0,
"interval_s": 1.0, "kind": "tcp", "name": "tcp", "port": null, "success_threshold": 1, "timeout_s": 1.0},
{"command": ["check", "{port}", "{version}"], "failure_threshold": 3, "initial_delay_s": 0.0,
"interval_s": 1.0, "kind": "command", "name": "ready", "success_threshold": 2, "timeout_s": 1.0}],
"resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "250m", "memory": "128Mi"}}}}"""
)
STORED_DIGEST = "sha256:afd49206d439b6fde23cc02eed2c767e26f3b3828009b476a9ba56d32f5a652d"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    path = tmp_path_factory.mktemp("digest") / "tiation.yaml"
    path.write_text(PLATFORM)
    return load_platform(path).platform


@pytest.mark.parametrize(("environment", "service"), sorted(PINNED))
def test_digest_of_a_built_release_is_unchanged(platform: Platform, environment: str, service: str) -> None:
    release = build_release(platform, Path("/srv/shop"), environment, service, "1.2.3")
    assert release.digest == PINNED[(environment, service)]
    back = Release.from_dict(json.loads(json.dumps(release.to_dict())))
    assert back == release
    assert back.digest == release.digest


def test_container_release_carries_typed_probe_specs(platform: Platform) -> None:
    release = build_release(platform, Path("/srv/shop"), "k8s", "web", "1.2.3")
    http, tcp, command = release.workload.probes
    assert http == HttpProbe(name="http /healthz", path="/healthz", port=8081, interval_s=2.0, timeout_s=0.5)
    assert tcp == TcpProbe(name="tcp", port=None, initial_delay_s=1.0, failure_threshold=5)
    assert command == CommandProbe(
        name="ready", command=("check", "{port}", "{version}"), success_threshold=2
    )
    assert release.workload.deadline_s == 45.0
    assert release.workload.env_secrets == ("web-extra",)


def test_a_stored_release_loads_into_the_typed_form_with_its_digest() -> None:
    release = Release.from_dict(STORED)
    assert release.digest == STORED_DIGEST
    assert isinstance(release.workload, Workload)
    assert [type(p) for p in release.workload.probes] == [HttpProbe, TcpProbe, CommandProbe]
    token, password = release.env["TOKEN"], release.env["DB_PW"]
    assert isinstance(token, SecretRef) and token.ref == "env:WEB_TOKEN"
    assert isinstance(password, SecretRef) and password.base == Path("/srv/shop")
    assert release.to_dict(include_digest=False) == STORED


def test_the_stored_dict_form_is_still_readable() -> None:
    # Code written against the dict form (`workload.get("probes")`, `probe["kind"]`) keeps working.
    workload = Release.from_dict(STORED).workload
    probes = workload.get("probes")
    assert [p["kind"] for p in probes] == ["http", "tcp", "command"]
    assert probes[0].get("path") == "/healthz" and workload["deadline_s"] == 45.0


def test_an_engine_run_kind_round_trips_with_its_settings() -> None:
    probe = {
        "name": "prometheus up",
        "kind": "prometheus",
        "interval_s": 5.0,
        "timeout_s": 2.0,
        "initial_delay_s": 0.0,
        "success_threshold": 1,
        "failure_threshold": 3,
        "url": "http://127.0.0.1:9090",
        "query": 'up{job="web"}',
        "op": ">=",
        "value": 1.0,
    }
    stored = {**STORED, "workload": {**STORED["workload"], "probes": [probe]}}
    release = Release.from_dict(stored)
    (typed,) = release.workload.probes
    assert isinstance(typed, EngineProbe) and typed.kind == "prometheus"
    assert typed.settings["query"] == 'up{job="web"}'
    assert release.workload.native_probes == ()
    assert release.to_dict(include_digest=False) == stored
