"""Run the server under uvicorn: logs through redaction, one access line per request, clean stop on signals.

uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown (so the process dies *by* the signal); a
requested stop is a normal end for `tiation serve`, so `Server` here finishes the shutdown and returns.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import socket
import sys
import threading
from collections.abc import Iterator
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


def serve(app: Any, host: str, port: int, *, graceful_seconds: int = 10) -> None:
    """Serve `app` on host:port until SIGTERM/SIGINT; TiationError if it could not start."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=graceful_seconds,
    )
    server = Server(config)
    server.run()
    if not server.started:
        raise TiationError(f"the server could not start on {host}:{port} (see the log above)")
