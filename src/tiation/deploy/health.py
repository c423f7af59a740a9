"""Run one health probe (of any kind: `tiation.deploy.probes`) against one instance.

A failing check is a result, not an error: `run_probe` returns `ok=False` with a short detail such as
"connection refused" or "status 503 (expected 200)" and never raises for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tiation.clock import Clock
from tiation.config.probes import Probe
from tiation.deploy.probes import ProbeContext, run_check
from tiation.redact import redact
from tiation.targets.base import Endpoint

if TYPE_CHECKING:
    import httpx

_DETAIL_MAX = 200


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one probe run."""

    probe: str
    ok: bool
    detail: str
    latency: float
    """Seconds the check took (monotonic clock)."""
    at: datetime
    """When the check started."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form."""
        return {
            "probe": self.probe,
            "ok": self.ok,
            "detail": self.detail,
            "latency": round(self.latency, 6),
            "at": self.at.isoformat(),
        }


def run_probe(
    probe: Probe, endpoint: Endpoint, *, version: str, clock: Clock, http: httpx.Client | None = None
) -> ProbeResult:
    """Run `probe` once against `endpoint`; `http` is an optional client to reuse for HTTP requests."""
    at = clock.now()
    start = clock.monotonic()
    timeout = probe.timeout.total_seconds()
    ok, detail = run_check(probe.check, ProbeContext(endpoint, version, timeout, http))
    latency = max(0.0, clock.monotonic() - start)
    if ok and probe.http is not None and probe.http.latency_budget is not None:
        budget = probe.http.latency_budget.total_seconds()
        if latency > budget:
            ok, detail = False, f"took {_ms(latency)} (budget {_ms(budget)})"
    detail = redact(detail)
    if len(detail) > _DETAIL_MAX:
        detail = detail[: _DETAIL_MAX - 3] + "..."
    return ProbeResult(probe=probe.label, ok=ok, detail=detail, latency=latency, at=at)


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000)} ms"
