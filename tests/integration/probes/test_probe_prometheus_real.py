"""The `prometheus` probe kind against a real Prometheus (Debian's `prometheus`) scraping a real endpoint, and in a
real deploy on the local target: a candidate is kept only when Prometheus says it is healthy."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from fixtures.apps import HTTPAPP
from fixtures.common import free_port, our_processes
from fixtures.monitoring import Monitoring, wait_for
from tiation.clock import SystemClock
from tiation.config.loader import load_platform
from tiation.config.models import Probe
from tiation.deploy.engine import Engine, make_prober
from tiation.deploy.health import ProbeResult, run_probe
from tiation.deploy.targets import make_target
from tiation.state import StateStore
from tiation.targets.base import Endpoint

pytestmark = pytest.mark.integration

CANDIDATE = Endpoint("127.0.0.1", 8080)


def check(prometheus_url: str, query: str, op: str = ">=", value: float = 1) -> ProbeResult:
    probe = Probe.model_validate(
        {"prometheus": {"url": prometheus_url, "query": query, "op": op, "value": value}, "timeout": "5s"}
    )
    return run_probe(probe, CANDIDATE, version="1.4.0", clock=SystemClock())


def test_a_real_prometheus_answers_the_probe(monitoring: Monitoring) -> None:
    metrics = monitoring.metrics_endpoint()
    metrics.set('app_ready{version="1.4.0"}', 1)
    metrics.set('app_errors_ratio{version="1.4.0"}', 0.002)
    prom = monitoring.prometheus([], scrape=[metrics.target])
    wait_for("the first scrape", lambda: check(prom.url, 'app_ready{version="{version}"}').ok, timeout=30)

    passing = check(prom.url, 'up{job="app"}')
    assert (passing.ok, passing.detail) == (True, "1 sample >= 1")
    assert check(prom.url, 'app_errors_ratio{version="{version}"}', "<", 0.01).ok

    too_many = check(prom.url, 'app_errors_ratio{version="{version}"}', "<", 0.001)
    assert (too_many.ok, too_many.detail) == (False, "0.002 is not < 0.001 (1 of 1 samples)")

    missing = check(prom.url, 'app_ready{version="9.9.9"}')
    assert (missing.ok, missing.detail) == (False, "query returned no samples")

    bad = check(prom.url, "app_ready{")
    assert not bad.ok and bad.detail.startswith("prometheus answered 400: ")

    # The value changes; the probe follows the scrapes.
    metrics.set('app_ready{version="1.4.0"}', 0)
    wait_for("the probe to see the change", lambda: not check(prom.url, "app_ready").ok, timeout=30)
    assert check(prom.url, "app_ready").detail == "0 is not >= 1 (1 of 1 samples)"


def test_a_range_vector_is_refused(monitoring: Monitoring) -> None:
    metrics = monitoring.metrics_endpoint()
    metrics.set("app_ready", 1)
    prom = monitoring.prometheus([], scrape=[metrics.target])
    wait_for("the first scrape", lambda: check(prom.url, "app_ready").ok, timeout=30)
    result = check(prom.url, "app_ready[1m]")
    assert (result.ok, result.detail) == (False, "query returned a matrix, not a vector")


PLATFORM = """\
version: 1
project: {{name: shop}}
environments:
  dev: {{target: local}}
services:
  web:
    port: {port}
    local: {{command: [{python}, {app}, serve, --host, "{{host}}", --port, "{{port}}", --version, "{{version}}",
             --tag, {tag}]}}
    health:
      deadline: 4s
      probes:
        - {{http: {{path: /health}}, interval: 200ms}}
        - prometheus: {{url: "{prometheus}", query: 'release_ok{{version="{{version}}"}}', op: ">=", value: 1}}
          interval: 500ms
"""


def test_a_deploy_keeps_only_what_prometheus_calls_healthy(monitoring: Monitoring, tmp_path: Path) -> None:
    metrics = monitoring.metrics_endpoint()
    metrics.set('release_ok{version="1.0"}', 1)
    metrics.set('release_ok{version="2.0"}', 0)
    prom = monitoring.prometheus([], scrape=[metrics.target])
    wait_for("the first scrape", lambda: check(prom.url, 'release_ok{version="1.0"}').ok, timeout=30)
    path = tmp_path / "tiation.yaml"
    path.write_text(
        PLATFORM.format(
            port=free_port(), python=sys.executable, app=HTTPAPP, tag=tmp_path, prometheus=prom.url
        )
    )
    loaded = load_platform(path)
    clock = SystemClock()
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}", clock=clock)
    target = make_target(loaded, "dev", clock)
    http = httpx.Client(trust_env=False, follow_redirects=False)
    engine = Engine(
        loaded=loaded,
        store=store,
        clock=clock,
        actor="ci",
        targets=lambda _env: target,
        prober_factory=lambda t, c: make_prober(t, c, http),
    )
    try:
        (kept,) = engine.deploy(engine.plan("dev", "web", "1.0"))
        assert (kept.status, target.observe("web").version) == ("succeeded", "1.0")

        (failed,) = engine.deploy(engine.plan("dev", "web", "2.0"))
        assert (failed.status, failed.rolled_back_to) == ("failed", "1.0")
        assert target.observe("web").version == "1.0"
        with store.read("read a deployment") as uow:
            row = uow.deployments.get(failed.deployment_id or "")
        assert row is not None
        evidence = row.evidence
        last = evidence["probes"]['prometheus release_ok{version="{version}"}'][-1]
        assert (last["ok"], last["detail"]) == (False, "0 is not >= 1 (1 of 1 samples)")
    finally:
        target.stop("web")
        http.close()
        store.close()
    assert our_processes(tmp_path / ".tiation") == []
