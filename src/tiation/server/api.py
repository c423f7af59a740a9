"""The management API beside the intake: incidents (list, show, ack, resolve) and on-call (who, shifts, iCal,
overrides). Callers authenticate with a bearer token listed under `server.api_tokens_sha256`; the token's name
is the actor the audit log records. Calendar apps that cannot send headers may pass `?token=` on the `.ics`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tiation.alerting.service import AlertService
from tiation.config.models import Platform
from tiation.errors import AlertError, TiationError, UsageError
from tiation.server.intake import error_response
from tiation.state.store import StateStore


class OverrideRequest(BaseModel):
    """An on-call override: `person` covers `schedule` from `start` to `end` (ISO 8601 with an offset)."""

    model_config = ConfigDict(extra="forbid")  # not strict: JSON carries times as ISO 8601 strings
    person: str
    start: datetime
    end: datetime
    reason: str = ""

    @field_validator("start", "end")
    @classmethod
    def _instant(cls, value: datetime) -> datetime:
        """An instant the store can hold: inside years 1..9999 once in UTC (a missing offset: see add_override)."""
        if value.tzinfo is None:
            return value
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range: the time in UTC must lie between the years 1 and 9999") from None
        return value


class _Denied(Exception):
    pass


def _actor(request: Request, tokens: Mapping[str, bytes], *, allow_query: bool = False) -> str:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if not token and allow_query:
        token = request.query_params.get("token", "")
    if not token:
        raise _Denied
    presented = hashlib.sha256(token.encode()).digest()
    found = ""
    for actor, digest in tokens.items():
        if hmac.compare_digest(presented, digest) and not found:
            found = actor
    if not found:
        raise _Denied
    return found


def _json(data: Any, status: int = 200) -> Response:
    import json

    return Response(json.dumps(data), status_code=status, media_type="application/json")


_ROUTES = (
    ("GET", "/incidents", "incidents", "incidents", "Incidents, newest first"),
    ("POST", "/incidents/{incident_id}/ack", "ack", "incidents", "Acknowledge: stop escalation"),
    ("POST", "/incidents/{incident_id}/resolve", "resolve", "incidents", "Resolve an incident"),
    ("GET", "/oncall/{schedule}.ics", "calendar", "oncall", "Shifts as an iCalendar feed"),
    ("GET", "/oncall/{schedule}/who", "who", "oncall", "Who is on call (now, or at ?at=)"),
)
"""(method, path, endpoint method of `_ManagementApi`, tag, summary) of the routes without a request body."""


def management_router(
    platform: Platform, store: StateStore, service: AlertService, now: Callable[[], datetime]
) -> APIRouter:
    """Routes under /api/v1 for incidents and on-call."""
    api = _ManagementApi(platform, store, service, now)
    router = APIRouter(prefix="/api/v1")
    for method, path, endpoint, tag, summary in _ROUTES:
        router.add_api_route(path, getattr(api, endpoint), methods=[method], tags=[tag], summary=summary)
    body_schema = {"content": {"application/json": {"schema": OverrideRequest.model_json_schema()}}}
    router.add_api_route(
        "/oncall/{schedule}/overrides",
        api.add_override,
        methods=["POST"],
        tags=["oncall"],
        summary="Add an override (audited)",
        openapi_extra={"requestBody": {**body_schema, "required": True}},
    )
    return router


class _ManagementApi:
    # The routes' endpoints: bound methods, so each route gets the platform, store and clock it was built with.

    def __init__(
        self, platform: Platform, store: StateStore, service: AlertService, now: Callable[[], datetime]
    ) -> None:
        self.platform, self.store, self.service, self.now = platform, store, service, now
        self.tokens = {actor: bytes.fromhex(d) for actor, d in platform.server.api_tokens_sha256.items()}

    def guarded(
        self, action: Callable[[str], Response], request: Request, *, allow_query: bool = False
    ) -> Response:
        try:
            actor = _actor(request, self.tokens, allow_query=allow_query)
        except _Denied:
            return error_response(
                401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        try:
            return action(actor)
        except (AlertError, UsageError) as exc:
            status = 404 if str(exc).startswith(("no incident", "unknown schedule")) else 409
            return error_response(status, str(exc))
        except TiationError as exc:
            return error_response(503, str(exc))

    def incidents(self, request: Request, state: str = "open", limit: int = 100) -> Response:
        states = {"open": ("triggered", "acknowledged"), "all": ()}.get(state, (state,))

        def run(_: str) -> Response:
            with self.store.read("list incidents") as uow:
                rows = uow.alerts.list_incidents(states=states, limit=min(max(limit, 1), 1000))
            return _json([i.to_dict() for i in rows])

        return self.guarded(run, request)

    def ack(self, incident_id: str, request: Request) -> Response:
        return self.guarded(
            lambda actor: _json(self.service.acknowledge(incident_id, actor=actor).to_dict()), request
        )

    def resolve(self, incident_id: str, request: Request) -> Response:
        return self.guarded(
            lambda actor: _json(self.service.resolve(incident_id, actor=actor).to_dict()), request
        )

    def calendar(self, schedule: str, request: Request, days: int = 28) -> Response:
        from tiation.oncall import ical
        from tiation.oncall import service as oncall

        def run(_: str) -> Response:
            start = self.now() - timedelta(days=1)
            end = start + timedelta(days=min(max(days, 1), 366))
            sched = oncall.load_schedule(self.platform, schedule, self.store, start=start, end=end)
            return Response(ical.ical_for(sched, start, end), media_type="text/calendar")

        return self.guarded(run, request, allow_query=True)

    def who(self, schedule: str, request: Request, at: datetime | None = None) -> Response:
        from tiation.oncall import service as oncall

        def run(_: str) -> Response:
            when = at or self.now()
            if when.tzinfo is None:
                raise UsageError("at: give an offset, e.g. 2026-03-29T02:30:00+02:00")
            sched = oncall.load_schedule(self.platform, schedule, self.store, start=when, end=when)
            person, source = sched.on_call(when)
            return _json({"schedule": schedule, "at": when.isoformat(), "person": person, "source": source})

        return self.guarded(run, request)

    async def add_override(self, schedule: str, request: Request) -> Response:
        raw = await request.body()  # read here, parsed only once the caller is known
        return await run_in_threadpool(
            self.guarded, lambda actor: self._add_override(schedule, raw, actor), request
        )

    def _add_override(self, schedule: str, raw: bytes, actor: str) -> Response:
        from tiation.oncall import service as oncall

        try:
            body = OverrideRequest.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or None
            return error_response(422, f"invalid request: {first.get('msg', 'invalid')}", field)
        row = oncall.add_override(
            self.platform,
            self.store,
            schedule=schedule,
            person=body.person,
            start=body.start,
            end=body.end,
            reason=body.reason,
            actor=actor,
        )
        return _json(
            {
                "id": row.id,
                "schedule": row.schedule,
                "person": row.person,
                "start": row.start.isoformat(),
                "end": row.end.isoformat(),
            },
            201,
        )
