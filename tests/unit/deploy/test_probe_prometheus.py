"""The `prometheus` probe kind against a scripted Prometheus HTTP API (httpx MockTransport), its settings in
the platform file, and where it runs: never in a target's own checks, always in the engine."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures.common import free_port
from tiation.clock import FakeClock
from tiation.config.loader import load_platform
from tiation.config.models import Probe
from tiation.deploy.engine import make_prober
from tiation.deploy.health import ProbeResult, run_probe
from tiation.deploy.release import build_release
from tiation.errors import ConfigError
from tiation.targets.base import Endpoint
from tiation.targets.capabilities import NO_CAPABILITIES, Capabilities, TargetProbing
from tiation.targets.compose.service import service_definition
from tiation.targets.kubernetes import manifests
from tiation.targets.probes import NATIVE_KINDS, EngineProbe, HttpProbe, Workload

ENDPOINT = Endpoint("10.0.0.7", 8080)


def vector(*values: str) -> dict[str, Any]:
    result = [
        {"metric": {"job": "cms", "i": str(i)}, "value": [1700000000.0, v]} for i, v in enumerate(values)
    ]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


class Prometheus:
    """A scripted `/api/v1/query`: answers `body` with `status`, and records each query."""

    def __init__(self, body: Any, status: int = 200) -> None:
        self.body, self.status, self.queries = body, status, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/query"
        self.queries.append(request.url.params["query"])
        return httpx.Response(self.status, content=json.dumps(self.body).encode())


def run(check: dict[str, Any], api: Prometheus) -> ProbeResult:
    probe = Probe.model_validate({"prometheus": {"url": "http://prom:9090", **check}})
    with httpx.Client(transport=httpx.MockTransport(api)) as client:
        return run_probe(probe, ENDPOINT, version="2.0", clock=FakeClock(), http=client)


def test_passes_when_every_sample_satisfies_the_comparison() -> None:
    result = run({"query": 'up{job="cms"}', "op": ">=", "value": 1}, Prometheus(vector("1", "1")))
    assert (result.probe, result.ok, result.detail) == ('prometheus up{job="cms"}', True, "2 samples >= 1")


def test_fails_naming_the_first_sample_that_does_not() -> None:
    result = run({"query": "up", "op": ">=", "value": 1}, Prometheus(vector("1", "0", "0")))
    assert (result.ok, result.detail) == (False, "0 is not >= 1 (2 of 3 samples)")


@pytest.mark.parametrize(
    ("op", "value", "sample", "ok"),
    [
        (">", 0.5, "0.6", True),
        (">", 0.5, "0.5", False),
        ("<", 0.01, "0.002", True),
        ("<=", 0.01, "0.02", False),
        ("==", 3, "3", True),
        ("!=", 3, "3", False),
        (">=", 1, "NaN", False),
    ],
)
def test_each_comparison(op: str, value: float, sample: str, ok: bool) -> None:
    assert run({"query": "q", "op": op, "value": value}, Prometheus(vector(sample))).ok is ok


def test_an_empty_vector_fails() -> None:
    result = run({"query": 'up{job="nope"}'}, Prometheus(vector()))
    assert (result.ok, result.detail) == (False, "query returned no samples")


def test_a_scalar_is_one_sample_and_a_matrix_is_refused() -> None:
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [1.0, "2"]}}
    assert run({"query": "scalar(2)", "value": 2}, Prometheus(scalar)).ok
    matrix = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    result = run({"query": "up[1m]"}, Prometheus(matrix))
    assert (result.ok, result.detail) == (False, "query returned a matrix, not a vector")


def test_a_bad_query_fails_with_prometheus_own_error() -> None:
    body = {"status": "error", "errorType": "bad_data", "error": 'parse error: unexpected "}"'}
    result = run({"query": "up}"}, Prometheus(body, status=400))
    assert (result.ok, result.detail) == (False, 'prometheus answered 400: parse error: unexpected "}"')


def test_an_unexpected_answer_fails() -> None:
    result = run(
        {"query": "up"}, Prometheus({"status": "success", "data": {"resultType": "vector", "result": [{}]}})
    )
    assert (result.ok, result.detail) == (False, "prometheus answered with an unexpected result")


def test_placeholders_name_the_candidate() -> None:
    api = Prometheus(vector("1"))
    run({"query": 'up{instance="{host}:{port}", version="{version}"}'}, api)
    assert api.queries == ['up{instance="10.0.0.7:8080", version="2.0"}']


def test_a_server_that_is_not_there_fails_the_check() -> None:
    probe = Probe.model_validate({"prometheus": {"url": f"http://127.0.0.1:{free_port()}", "query": "up"}})
    result = run_probe(probe, ENDPOINT, version="1", clock=FakeClock())
    assert (result.ok, result.detail) == (False, "prometheus: connection refused")


PLATFORM = """\
version: 1
project: {name: shop}
environments:
  prod: {target: kubernetes}
services:
  cms:
    port: 8080
    image: "cms:{version}"
    health:
      probes:
        - prometheus: {url: "http://prom:9090", query: 'up{job="cms"}', op: ">=", value: 1}
          interval: 5s
        - {http: {path: /health}}
"""


def test_the_platform_file_takes_a_prometheus_probe_and_the_release_carries_it(tmp_path: Path) -> None:
    (tmp_path / "tiation.yaml").write_text(PLATFORM)
    loaded = load_platform(tmp_path / "tiation.yaml")
    release = build_release(loaded.platform, tmp_path, "prod", "cms", "1.0")
    prom, http = release.workload.probes
    assert isinstance(prom, EngineProbe) and prom.kind == "prometheus"
    assert isinstance(http, HttpProbe)
    assert dict(prom.settings) == {
        "url": "http://prom:9090",
        "query": 'up{job="cms"}',
        "op": ">=",
        "value": 1.0,
    }
    # Kubernetes renders the first probe it can run (http); the prometheus probe is the engine's.
    container = manifests.container(release)
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    bare = manifests.container(replace(release, workload=Workload(probes=(prom,), deadline_s=30.0)))
    assert "readinessProbe" not in bare and "livenessProbe" not in bare
    # So does compose: the container's healthcheck comes from the http probe.
    definition = service_definition(
        release, host="127.0.0.1", port=8080, config_dir="/c", command_probes=True
    )
    assert definition.healthcheck is not None and "/health" in definition.healthcheck.test[1]
    alone = replace(release, workload=Workload(probes=(prom,)))
    assert (
        service_definition(alone, host="h", port=1, config_dir="/c", command_probes=True).healthcheck is None
    )


def test_a_wrong_comparison_is_a_one_line_config_error(tmp_path: Path) -> None:
    (tmp_path / "tiation.yaml").write_text(PLATFORM.replace('op: ">="', 'op: "=>"'))
    with pytest.raises(ConfigError) as caught:
        load_platform(tmp_path / "tiation.yaml")
    assert "services.cms.health.probes[0].prometheus.op" in str(caught.value)


class _Answering:
    """Just enough of a target for `make_prober`: it answers the native kinds itself, like a cluster."""

    kind = "cluster"

    def __init__(self, kinds: frozenset[str] | None) -> None:
        self.kinds, self.asked = kinds, []

    def capabilities(self) -> Capabilities:
        if self.kinds is None:
            return NO_CAPABILITIES
        return Capabilities(probing=TargetProbing(self.answer, kinds=self.kinds))

    def answer(self, endpoint: Endpoint, version: str) -> tuple[bool, str]:
        self.asked.append(version)
        return True, "rollout complete"


def test_a_target_answers_its_kinds_and_the_engine_runs_the_others() -> None:
    target = _Answering(NATIVE_KINDS)
    prober = make_prober(target, FakeClock())  # type: ignore[arg-type]
    answered = prober(Probe.model_validate({"http": {}}), ENDPOINT, "3.0")
    assert (answered.ok, answered.detail, target.asked) == (True, "rollout complete", ["3.0"])
    prom = Probe.model_validate({"prometheus": {"url": f"http://127.0.0.1:{free_port()}", "query": "up"}})
    ran = prober(prom, ENDPOINT, "3.0")
    assert (ran.ok, ran.detail, target.asked) == (False, "prometheus: connection refused", ["3.0"])
