"""The `tiation serve` application: intake routes, health, metrics, OpenAPI, and background services.

`create_app` builds a FastAPI app from the intake settings and an `Ingestor` (the alert engine). It owns one
`GroupCommitter` (the single writer thread) and a metrics registry of its own. Background services (the
escalation scheduler, the outbox worker) are started in the app's lifespan after the writer and stopped before
it, in reverse order. Later issues add routers through `routers`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, cast

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from prometheus_client import CollectorRegistry
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tiation import __version__
from tiation.alerting.intake.alertmanager import AlertmanagerWebhook
from tiation.alerting.intake.generic import GenericAlert, GenericBatch
from tiation.alerting.intake.pagerduty import PagerDutyEvent
from tiation.clock import Clock, SystemClock
from tiation.config.alerting import Intake, IntakeKind
from tiation.server.access import AccessLog
from tiation.server.auth import IntakeAuth
from tiation.server.committer import GroupCommitter, Ingestor
from tiation.server.intake import IntakeEndpoint, IntakeFastPath, error_response
from tiation.server.limits import BodyBudget, Limits
from tiation.server.metrics import CONTENT_TYPE, INTAKES, ServerMetrics


class Background(Protocol):
    """A service that runs beside the server: `start()` at startup, `stop()` at shutdown (both may block)."""

    def start(self) -> None:
        """Begin work (e.g. start a thread); return once running."""
        ...

    def stop(self) -> None:
        """Finish or abandon work cleanly; return once stopped."""
        ...


@dataclass(frozen=True)
class Batching:
    """Group commit settings: events per `ingest` call at most, how long to wait for more, queue bound, and
    the slice size beyond which one request is committed in several transactions (see `committer`)."""

    max_events: int = 1000
    linger: float = 0.0
    max_pending: int = 50_000
    slice_events: int = 200


class IngestAnswer(BaseModel):
    """A 202 answer: what the request's alerts did."""

    received: int
    new: int
    duplicates: int
    resolved: int
    acknowledged: int
    silenced: int
    incidents: list[str]


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: one line, and the JSON path of the bad field when there is one."""

    error: str
    field: str | None


_ERRORS = (
    (400, "Malformed JSON"),
    (401, "Missing or invalid credentials"),
    (404, "This intake is not configured"),
    (405, "Not POST"),
    (408, "The body did not arrive within the server's body timeout (10 s)"),
    (413, "Body larger than the intake's max_body_bytes"),
    (415, "Content-Type is not application/json"),
    (422, "The JSON does not fit the intake's format (`field` names the path)"),
    (500, "The alerts could not be stored"),
    (
        503,
        "Queue full, server stopping, storage unavailable, or too many signed bodies in flight: retry after "
        "Retry-After seconds",
    ),
)
_WIRE: dict[str, tuple[str, list[type[BaseModel]]]] = {
    "alertmanager": ("Alertmanager webhook notification, payload version 4.", [AlertmanagerWebhook]),
    "pagerduty": ("PagerDuty Events API v2 event (trigger / acknowledge / resolve).", [PagerDutyEvent]),
    "generic": ("tiation's generic format: a batch or a single alert.", [GenericBatch, GenericAlert]),
}
_SCHEMAS = "#/components/schemas/"
_AUTH_DOC = (
    "Authenticate with `Authorization: Bearer <token>` (its SHA-256 is in `alerting.intake.<kind>.tokens_sha256`) "
    "or sign the body: `X-Tiation-Timestamp: <Unix seconds>` and `X-Tiation-Signature: sha256=<hex>`, the "
    "HMAC-SHA256 of `<timestamp>.<body>` with `hmac_secret`, within 5 minutes of the server's clock. "
    "Answered only once the alerts are committed."
)


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _SCHEMAS + ref}}}


def _intake_operation(kind: str) -> dict[str, Any]:
    description, models = _WIRE[kind]
    refs = [{"$ref": _SCHEMAS + m.__name__} for m in models]
    responses: dict[str, Any] = {"202": {"description": "Committed", "content": _json("IngestAnswer")}}
    responses.update(
        {str(code): {"description": text, "content": _json("ErrorBody")} for code, text in _ERRORS}
    )
    headers = [
        {"name": "X-Tiation-Timestamp", "in": "header", "required": False, "schema": {"type": "string"}},
        {"name": "X-Tiation-Signature", "in": "header", "required": False, "schema": {"type": "string"}},
    ]
    return {
        "post": {
            "tags": ["intake"],
            "summary": f"Receive alerts: {kind}",
            "description": f"{description}\n\n{_AUTH_DOC}",
            "operationId": f"intake_{kind}",
            "parameters": headers,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": refs[0] if len(refs) == 1 else {"oneOf": refs}}},
            },
            "responses": responses,
            "security": [{"bearer": []}, {"signature": []}],
        }
    }


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title="tiation", version=__version__, description=__doc__ or "", routes=app.routes
        )
        models: list[type[BaseModel]] = [
            IngestAnswer,
            ErrorBody,
            *(m for _, ms in _WIRE.values() for m in ms),
        ]
        _, defs = models_json_schema([(m, "validation") for m in models], ref_template=_SCHEMAS + "{model}")
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(defs.get("$defs", {}))
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "signature": {"type": "apiKey", "in": "header", "name": "X-Tiation-Signature"},
        }
        schema.setdefault("paths", {}).update({f"/api/v1/intake/{k}": _intake_operation(k) for k in _WIRE})
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(
    intake: Mapping[IntakeKind, Intake],
    ingestor: Ingestor,
    *,
    services: Sequence[Background] = (),
    registry: CollectorRegistry | None = None,
    clock: Clock | None = None,
    batching: Batching | None = None,
    routers: Sequence[APIRouter] = (),
    limits: Limits | None = None,
) -> FastAPI:
    """The ASGI app of `tiation serve`; `app.state.metrics` and `app.state.committer` are its parts.

    `intake` is `platform.alerting.intake`; HMAC secrets are resolved here (a missing one is a ConfigError).
    """
    clock = clock or SystemClock()
    batching = batching or Batching()
    limits = limits or Limits()
    metrics = ServerMetrics(registry)
    committer = GroupCommitter(
        ingestor,
        max_events=batching.max_events,
        linger=batching.linger,
        max_pending=batching.max_pending,
        slice_events=batching.slice_events,
        on_batch=metrics.batch,
    )
    app = FastAPI(title="tiation", version=__version__, lifespan=_lifespan(committer, services))
    app.state.metrics = metrics
    app.state.committer = committer
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    _server_routes(app, committer, metrics)
    endpoints = _intake_endpoints(intake, committer, metrics, clock, limits)
    for path, endpoint in endpoints.items():
        # Plain ASGI routes, reached through `IntakeFastPath` for POST; registered so that other methods get
        # a 405. The OpenAPI document describes them by hand (`_openapi`).
        app.router.add_route(path, cast(Any, endpoint), methods=["POST"], include_in_schema=False)
    for router in routers:
        app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(IntakeFastPath, endpoints=endpoints)
    app.add_middleware(AccessLog, clock=clock)
    return app


def _lifespan(
    committer: GroupCommitter, services: Sequence[Background]
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the writer, then the background services; stop them in reverse order."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        committer.start()
        started: list[Background] = []
        try:
            for service in services:
                service.start()
                started.append(service)
            yield
        finally:
            for service in reversed(started):
                service.stop()
            committer.stop()

    return lifespan


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "not found", 405: "method not allowed"}.get(exc.status_code, "request refused")
    return error_response(exc.status_code, message, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    loc = exc.errors()[0].get("loc", ()) if exc.errors() else ()
    return error_response(422, "invalid request", ".".join(str(p) for p in loc) or None)


def _server_routes(app: FastAPI, committer: GroupCommitter, metrics: ServerMetrics) -> None:
    """`/healthz` and `/metrics`."""

    @app.get("/healthz", tags=["server"], summary="Liveness: the intake writer thread is running")
    async def healthz() -> Response:
        ok = committer.alive
        body = json.dumps({"status": "ok" if ok else "unhealthy", "intake_writer": ok}).encode()
        return Response(body, status_code=200 if ok else 503, media_type="application/json")

    @app.get("/metrics", tags=["server"], summary="Prometheus metrics of this server")
    async def metrics_endpoint() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)


def _intake_endpoints(
    intake: Mapping[IntakeKind, Intake],
    committer: GroupCommitter,
    metrics: ServerMetrics,
    clock: Clock,
    limits: Limits,
) -> dict[str, IntakeEndpoint]:
    """One endpoint per intake kind, by path; a kind the file does not configure answers 404. Unauthenticated
    bodies of every intake draw on one budget."""
    budget = BodyBudget(limits.unauthenticated_bytes)
    configured: dict[str, Intake] = {str(kind): settings for kind, settings in intake.items()}
    auths = {kind: IntakeAuth.from_config(settings) for kind, settings in configured.items()}
    return {
        f"/api/v1/intake/{kind}": IntakeEndpoint(
            kind=kind,
            auth=auths.get(kind),
            max_body_bytes=configured[kind].max_body_bytes if kind in configured else 0,
            committer=committer,
            metrics=metrics,
            clock=clock,
            budget=budget,
            body_seconds=limits.body_seconds,
        )
        for kind in INTAKES
    }
