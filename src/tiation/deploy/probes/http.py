"""The `http` probe kind: GET a path; passing on an expected status (and body text)."""

from __future__ import annotations

from tiation.config.probes import HttpCheck
from tiation.deploy.probes.base import ProbeContext, connect_failure, run_check, timed_out, url_host


@run_check.register
def run_http(check: HttpCheck, ctx: ProbeContext) -> tuple[bool, str]:
    """GET `check.path` on the instance (or `check.port`)."""
    import httpx

    url = f"http://{url_host(ctx.endpoint.host)}:{check.port or ctx.endpoint.port}{check.path}"
    with ctx.http_client() as client:
        try:
            response = client.get(url, timeout=ctx.timeout, follow_redirects=False)
        except httpx.TimeoutException:
            return False, timed_out(ctx.timeout)
        except httpx.ConnectError as exc:
            return False, connect_failure(exc)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return False, f"request failed: {exc or type(exc).__name__}"
    if response.status_code not in check.expect_status:
        expected = " or ".join(str(s) for s in check.expect_status)
        return False, f"status {response.status_code} (expected {expected})"
    if check.body_contains is not None and check.body_contains not in response.text:
        return False, f"body does not contain {check.body_contains!r}"
    return True, f"status {response.status_code}"
