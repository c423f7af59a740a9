"""One access-log line per request: client, method, path, status, milliseconds.

Never a query string, a header or the body; the path only when it matched a route (an unmatched path is
whatever the sender typed, tokens included).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tiation.clock import Clock

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("tiation.server.access")
_MAX_PATH = 200


class AccessLog:
    """A plain ASGI middleware (no per-request task or body buffering, unlike Starlette's BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp, clock: Clock) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = self.clock.monotonic()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            client = scope.get("client") or ("-", 0)
            path = "(no route)"  # a path that matched no route is the sender's text: not logged
            if scope.get("endpoint") is not None or scope.get("route") is not None:
                path = "".join(c if c.isprintable() else "?" for c in str(scope.get("path", ""))[:_MAX_PATH])
            millis = (self.clock.monotonic() - started) * 1000
            log.info("%s %s %s %d %.1fms", client[0], scope.get("method", "-"), path, status, millis)
