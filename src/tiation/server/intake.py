"""One intake endpoint: authenticate, bound and read the body, parse it, hand it to the group committer.

The checks run cheapest first, and nothing is ingested unless all of them pass:

| step | failure |
|---|---|
| the intake is configured | 404 |
| a bearer token is valid, or a signature is presented | 401 |
| `Content-Type: application/json` | 415 |
| `Content-Length` (when sent) <= `max_body_bytes` | 413, before a byte of the body is read |
| signed only: the body fits the budget for unauthenticated bytes (`limits.py`) | 503 + Retry-After, at once |
| the body, counted while it is read (chunked bodies too), <= `max_body_bytes` | 413, reading stops |
| the whole body arrives within `Limits.body_seconds` | 408 |
| the signature verifies over the body, timestamp within 5 minutes | 401 |
| the body is JSON | 400 |
| the JSON fits the intake's format | 422, naming the field |

Then the events are queued for the writer thread and the request waits for its batch to commit: 202 with the
request's `IngestResult`. Every error body is `{"error": "<one line>", "field": "<path or null>"}` and never
holds anything from the request (no body, no header, no token).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from tiation.alerting.intake import PARSERS, IntakeError
from tiation.alerting.model import AlertEvent, IngestResult
from tiation.clock import Clock
from tiation.errors import TiationError
from tiation.redact import redact
from tiation.server.auth import AuthError, IntakeAuth, Proof
from tiation.server.committer import GroupCommitter, Overloaded
from tiation.server.limits import BODY_SECONDS, BodyBudget
from tiation.server.metrics import ServerMetrics

JSON = "application/json"
OFF_LOOP_BYTES = 256 << 10
"""Bodies larger than this (~1,000 alerts) are parsed on a worker thread, not on the event loop."""
log = logging.getLogger("tiation.server.intake")


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Problem(Exception):
    """A request that ends in an error answer; `outcome` is its metrics label."""

    def __init__(
        self,
        status: int,
        outcome: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.outcome, self.message, self.field = status, outcome, message, field
        self.headers = headers or {}


class _Gone(Exception):
    """The client disconnected before its body was read: there is nobody to answer."""


def error_body(message: str, field: str | None = None) -> bytes:
    """`{"error": ..., "field": ...}` (the message is redacted once more, to be sure)."""
    return json.dumps({"error": redact(message), "field": field}).encode()


def error_response(
    status: int, message: str, field: str | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    """The same error body as a Starlette response (for routes that use response objects)."""
    return Response(
        error_body(message, field), status_code=status, media_type=JSON, headers=dict(headers or {})
    )


async def send_json(send: Send, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
    """Answer with a JSON body (raw ASGI: no response object on the hot path)."""
    raw = [(b"content-type", JSON.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_json(body: bytes) -> object:
    """The JSON document in `body`, or a 400 Problem whose message holds positions only."""
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise Problem(
            400, "malformed", f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except UnicodeDecodeError:
        raise Problem(400, "malformed", "malformed JSON: the body is not UTF-8") from None
    except RecursionError:
        raise Problem(400, "malformed", "malformed JSON: nested too deeply") from None
    except ValueError:
        raise Problem(400, "malformed", "malformed JSON: NaN and Infinity are not JSON") from None


@dataclass
class IntakeEndpoint:
    """`POST /api/v1/intake/<kind>` for one intake kind, as a plain ASGI app (auth None: not configured).

    Plain ASGI on purpose: this is the hot path, and Starlette's request/response objects and FastAPI's
    parameter machinery cost more than the rest of the request together. The OpenAPI document describes it
    by hand (`tiation.server.app`).
    """

    kind: str
    auth: IntakeAuth | None
    max_body_bytes: int
    committer: GroupCommitter
    metrics: ServerMetrics
    clock: Clock
    budget: BodyBudget | None = None
    """Shared by every intake: bytes held for bodies not yet authenticated (None: no cap)."""
    body_seconds: float = BODY_SECONDS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = self.clock.monotonic()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status, outcome, extra = 202, "accepted", None
        events: list[AlertEvent] = []
        try:
            events = await self._accept(headers, receive)
            result = await self.committer.submit(events) if events else IngestResult()
            body = json.dumps(result.to_dict()).encode()
        except _Gone:
            return
        except Problem as problem:
            status, outcome, extra = problem.status, problem.outcome, problem.headers
            body = error_body(problem.message, problem.field)
        except Overloaded as exc:
            status, outcome, extra = 503, "overloaded", {"Retry-After": "1"}
            body = error_body(f"{exc.message}; retry shortly")
        except TiationError as exc:
            outcome = "error"
            status, extra = (503, {"Retry-After": "5"}) if exc.retryable else (500, None)
            body = error_body("the alerts could not be stored" + ("; retry" if exc.retryable else ""))
        except Exception as exc:
            log.error("intake %s failed: %s", self.kind, type(exc).__name__)
            status, outcome = 500, "error"
            body = error_body("the alerts could not be stored")
        await send_json(send, status, body, extra)
        accepted = len(events) if status == 202 else 0
        self.metrics.request(self.kind, outcome, self.clock.monotonic() - started, alerts=accepted)

    async def _accept(self, headers: dict[str, str], receive: Receive) -> list[AlertEvent]:
        if self.auth is None:
            raise Problem(404, "not_configured", f"intake {self.kind!r} is not configured on this server")
        try:
            proof = self.auth.precheck(headers)
        except AuthError as exc:
            raise Problem(401, "unauthorized", exc.message, headers={"WWW-Authenticate": "Bearer"}) from None
        media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != JSON:
            raise Problem(415, "unsupported_media_type", f"expected Content-Type: {JSON}")
        budget = self.budget if proof is Proof.SIGNATURE else None
        try:
            async with asyncio.timeout(self.body_seconds):
                body = await self._read(headers, receive, budget)
        except TimeoutError:
            raise Problem(
                408,
                "timeout",
                f"the body did not arrive within {self.body_seconds:g} seconds",
                headers={"Connection": "close"},
            ) from None
        if proof is Proof.SIGNATURE:
            try:
                self.auth.verify_signature(headers, body, self.clock.now().timestamp())
            except AuthError as exc:
                raise Problem(401, "unauthorized", exc.message) from None
        if len(body) > OFF_LOOP_BYTES:  # a big body is parsed beside the loop, which keeps serving others
            return await asyncio.to_thread(self._parse, body)
        return self._parse(body)

    def _parse(self, body: bytes) -> list[AlertEvent]:
        data = decode_json(body)
        try:
            return PARSERS[self.kind](data)
        except IntakeError as exc:
            raise Problem(422, "invalid", exc.message, field=exc.field) from None

    async def _read(self, headers: dict[str, str], receive: Receive, budget: BodyBudget | None) -> bytes:
        limit = self.max_body_bytes
        too_large = Problem(413, "too_large", f"the body is larger than this intake's limit of {limit} bytes")
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise Problem(400, "malformed", "Content-Length is not a number")
            if int(declared) > limit:
                raise too_large
        held = 0  # bytes taken from the unauthenticated budget: all declared ones up front, else per chunk
        try:
            if budget is not None and declared is not None:
                held = self._hold(budget, int(declared))
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Gone
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise too_large
                if budget is not None and size > held:
                    held += self._hold(budget, size - held)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
        finally:
            if budget is not None:
                budget.give(held)

    @staticmethod
    def _hold(budget: BodyBudget, size: int) -> int:
        if not budget.take(size):
            raise Problem(
                503,
                "overloaded",
                "too many signed bodies are being received at once; retry shortly",
                headers={"Retry-After": "1", "Connection": "close"},
            )
        return size


class IntakeFastPath:
    """ASGI middleware: `POST` to an intake path goes straight to its endpoint.

    It skips FastAPI's routing, exception and exit-stack layers (a third of a request's cost on this path).
    Everything else, including a GET on an intake path (405), passes through to the app.
    """

    def __init__(
        self, app: Callable[[Scope, Receive, Send], Awaitable[None]], endpoints: Mapping[str, IntakeEndpoint]
    ):
        self.app = app
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                scope["endpoint"] = endpoint  # a known route: the access log may show the path
                await endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)
