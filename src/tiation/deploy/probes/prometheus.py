"""The `prometheus` probe kind: an instant query against Prometheus' HTTP API (`/api/v1/query`).

Passing when the query returns a non-empty vector (or a scalar) and every sample's value satisfies
`op value`. No target renders it (a pod or a container cannot run it): the deploy engine runs it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from tiation.config.probes import PrometheusCheck
from tiation.deploy.probes.base import ProbeContext, connect_failure, run_check, timed_out

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


@run_check.register
def run_prometheus(check: PrometheusCheck, ctx: ProbeContext) -> tuple[bool, str]:
    """Ask Prometheus for `check.query` (placeholders filled) and compare every sample with `check.value`."""
    import httpx

    url = check.url.rstrip("/") + "/api/v1/query"
    with ctx.http_client() as client:
        try:
            response = client.get(url, params={"query": ctx.fill(check.query)}, timeout=ctx.timeout)
        except httpx.TimeoutException:
            return False, timed_out(ctx.timeout)
        except httpx.ConnectError as exc:
            return False, f"prometheus: {connect_failure(exc)}"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return False, f"prometheus: request failed: {exc or type(exc).__name__}"
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else None
        return False, f"prometheus answered {response.status_code}" + (f": {error}" if error else "")
    try:
        values = _values(body.get("data") or {})
    except (KeyError, IndexError, TypeError, ValueError):
        return False, "prometheus answered with an unexpected result"
    if values is None:
        return False, f"query returned a {body['data'].get('resultType')}, not a vector"
    if not values:
        return False, "query returned no samples"
    compare = _OPS[check.op]
    failing = [v for v in values if not compare(v, check.value)]
    expected = f"{check.op} {_number(check.value)}"
    if failing:
        return False, f"{_number(failing[0])} is not {expected} ({len(failing)} of {len(values)} samples)"
    return True, f"{len(values)} sample{'s' if len(values) != 1 else ''} {expected}"


def _values(data: dict[str, Any]) -> list[float] | None:
    """The sample values of a query result (None for a result type that has none: a matrix, a string)."""
    kind, result = data.get("resultType"), data.get("result")
    if kind == "vector" and isinstance(result, list):
        return [float(sample["value"][1]) for sample in result]
    if kind == "scalar" and isinstance(result, list):
        return [float(result[1])]
    return None


def _number(value: float) -> str:
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return str(value)
