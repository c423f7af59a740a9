"""The `tcp` probe kind: passing when a connection to the port opens."""

from __future__ import annotations

import socket

from tiation.config.probes import TcpCheck
from tiation.deploy.probes.base import ProbeContext, run_check, timed_out


@run_check.register
def run_tcp(check: TcpCheck, ctx: ProbeContext) -> tuple[bool, str]:
    """Connect to the instance's port (or `check.port`)."""
    port = check.port or ctx.endpoint.port
    try:
        with socket.create_connection((ctx.endpoint.host, port), timeout=ctx.timeout):
            return True, f"connected to port {port}"
    except ConnectionRefusedError:
        return False, "connection refused"
    except TimeoutError:
        return False, timed_out(ctx.timeout)
    except OSError as exc:
        return False, f"cannot connect: {exc.strerror or exc}"
