"""The management API beside the intake: incidents (list, show, ack, resolve) and on-call (who, shifts, iCal,
overrides). Callers authenticate with a bearer token listed under `server.api_tokens_sha256`; the token's name
is the actor the audit log records. Calendar apps that cannot send headers may pass `?token=` on the `.ics`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, ValidationError
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


def management_router(
    platform: Platform, store: StateStore, service: AlertService, now: Callable[[], datetime]
) -> APIRouter:
    """Routes under /api/v1 for incidents and on-call."""
    from tiation.oncall import ical
    from tiation.oncall import service as oncall

    tokens = {actor: bytes.fromhex(d) for actor, d in platform.server.api_tokens_sha256.items()}
    router = APIRouter(prefix="/api/v1")

    def guarded(
        action: Callable[[str], Response], request: Request, *, allow_query: bool = False
    ) -> Response:
        try:
            actor = _actor(request, tokens, allow_query=allow_query)
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

    @router.get("/incidents", tags=["incidents"], summary="Incidents, newest first")
    def incidents(request: Request, state: str = "open", limit: int = 100) -> Response:
        states = {"open": ("triggered", "acknowledged"), "all": ()}.get(state, (state,))

        def run(_: str) -> Response:
            with store.read("list incidents") as uow:
                rows = uow.alerts.list_incidents(states=states, limit=min(max(limit, 1), 1000))
            return _json([i.to_dict() for i in rows])

        return guarded(run, request)

    @router.post("/incidents/{incident_id}/ack", tags=["incidents"], summary="Acknowledge: stop escalation")
    def ack(incident_id: str, request: Request) -> Response:
        return guarded(lambda actor: _json(service.acknowledge(incident_id, actor=actor).to_dict()), request)

    @router.post("/incidents/{incident_id}/resolve", tags=["incidents"], summary="Resolve an incident")
    def resolve(incident_id: str, request: Request) -> Response:
        return guarded(lambda actor: _json(service.resolve(incident_id, actor=actor).to_dict()), request)

    @router.get("/oncall/{schedule}.ics", tags=["oncall"], summary="Shifts as an iCalendar feed")
    def calendar(schedule: str, request: Request, days: int = 28) -> Response:
        def run(_: str) -> Response:
            start = now() - timedelta(days=1)
            end = start + timedelta(days=min(max(days, 1), 366))
            sched = oncall.load_schedule(platform, schedule, store, start=start, end=end)
            return Response(ical.ical_for(sched, start, end), media_type="text/calendar")

        return guarded(run, request, allow_query=True)

    @router.get("/oncall/{schedule}/who", tags=["oncall"], summary="Who is on call (now, or at ?at=)")
    def who(schedule: str, request: Request, at: datetime | None = None) -> Response:
        def run(_: str) -> Response:
            when = at or now()
            if when.tzinfo is None:
                raise UsageError("at: give an offset, e.g. 2026-03-29T02:30:00+02:00")
            person, source = oncall.load_schedule(platform, schedule, store, start=when, end=when).on_call(
                when
            )
            return _json({"schedule": schedule, "at": when.isoformat(), "person": person, "source": source})

        return guarded(run, request)

    body_schema = {"content": {"application/json": {"schema": OverrideRequest.model_json_schema()}}}

    @router.post(
        "/oncall/{schedule}/overrides",
        tags=["oncall"],
        summary="Add an override (audited)",
        openapi_extra={"requestBody": {**body_schema, "required": True}},
    )
    async def add_override(schedule: str, request: Request) -> Response:
        raw = await request.body()  # read here, parsed only once the caller is known

        def run(actor: str) -> Response:
            try:
                body = OverrideRequest.model_validate_json(raw)
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(p) for p in first.get("loc", ())) or None
                return error_response(422, f"invalid request: {first.get('msg', 'invalid')}", field)
            row = oncall.add_override(
                platform,
                store,
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

        return await run_in_threadpool(guarded, run, request)

    return router
