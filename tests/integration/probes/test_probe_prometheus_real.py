"""The `prometheus` probe kind against a real Prometheus (Debian's `prometheus`) scraping a real endpoint."""

from __future__ import annotations

import pytest

from fixtures.monitoring import Monitoring, wait_for
from tiation.clock import SystemClock
from tiation.config.models import Probe
from tiation.deploy.health import ProbeResult, run_probe
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
