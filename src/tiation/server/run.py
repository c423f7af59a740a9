"""Run the server under uvicorn: logs through redaction, one access line per request, clean stop on signals.

uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown (so the process dies *by* the signal); a
requested stop is a normal end for `tiation serve`, so `Server` here finishes the shutdown and returns.

The listening socket is bound by `listen` before anything starts, so a busy port is one error line and a
non-zero exit, never a server that logged "startup complete" and then died. `X-Forwarded-*` headers are
believed only from `trusted_proxies` (none by default).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import socket
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import uvicorn

from tiation.errors import TiationError
from tiation.redact import redact

_HANDLED = (signal.SIGINT, signal.SIGTERM)


class RedactingFormatter(logging.Formatter):
    """A formatter whose every line (tracebacks included) passes through `tiation.redact`."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(*, access_log: bool = True, stream: Any = None) -> None:
    """Log INFO and up to stderr, redacted; `access_log=False` drops the per-request lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("tiation.server.access").setLevel(logging.INFO if access_log else logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # schema upgrades are reported by the store


class Server(uvicorn.Server):
    """uvicorn's server, minus re-raising the stop signal after a graceful shutdown."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # What exists now lives as long as the server: keep it out of the collector's full passes, which
        # would otherwise walk all of it and stall every request in flight for tens of milliseconds.
        gc.freeze()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in _HANDLED}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port and listening; TiationError (one line) if that is not possible."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise TiationError(f"cannot listen on {host}:{port}: {reason.lower()}") from None
    sock.set_inheritable(True)
    return sock


def serve(
    app: Any,
    host: str,
    port: int,
    *,
    graceful_seconds: int = 10,
    trusted_proxies: Sequence[str] = (),
    sock: socket.socket | None = None,
) -> None:
    """Serve `app` on `sock` (else a new socket on host:port) until SIGTERM/SIGINT; TiationError if it could not
    start. `X-Forwarded-For` is honoured only from `trusted_proxies` (addresses or CIDR networks)."""
    sock = sock or listen(host, port)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=graceful_seconds,
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=list(trusted_proxies),
    )
    server = Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:
        raise TiationError(f"the server could not start on {host}:{port} (see the log above)")
