"""What happened to a candidate's container since the last look (pure; the target fetches the inputs).

Each poll is one `inspect` plus the engine's recorded `die`/`oom` events of the container since the last
poll (`GET /events` with `until` = now, so it returns at once: no stream to keep open). Exits come from the
`die` events, each with its exit code even when the restart policy has started the container again before
the look; restarts are seen as `RestartCount` growing (restart policy `on-failure`); a crash loop is
CRASH_LOOP_RESTARTS restarts within CRASH_LOOP_WINDOW. Healthcheck transitions are INFO events: the deploy
engine judges health with its own probes (the same check, from outside, with the release's thresholds and
deadline); Docker's in-container check needs a wget/curl/nc in the image and has no deadline of its own, so
its verdict alone must not fail a candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tiation.targets.base import EventKind, TargetEvent

CRASH_LOOP_RESTARTS = 3
CRASH_LOOP_WINDOW = timedelta(seconds=60)


def docker_time(value: object) -> datetime | None:
    """An engine timestamp (RFC 3339 with nanoseconds), or None for the zero time or junk."""
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    text = value.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def container_state(data: dict[str, Any] | None) -> str:
    """An instance state ("running" | "starting" | "exited") from `inspect`; "exited" when the container is
    gone."""
    if data is None:
        return "exited"
    state = data.get("State") or {}
    if state.get("Restarting") or state.get("Status") == "created":
        return "starting"
    if state.get("Running"):
        return "running"
    return "exited"


@dataclass
class ContainerCursor:
    """What `container_events` already reported for one container."""

    started: bool = False
    since: float | None = None  # Unix time from which to ask the engine for events next
    seen: set[str] = field(default_factory=set)
    restarts: int = 0
    restart_times: list[datetime] = field(default_factory=list)
    crash_loop: bool = False
    oom: bool = False
    error: bool = False
    health: str = ""
    gone: bool = False


def _health_detail(health: dict[str, Any]) -> str:
    log = health.get("Log") or []
    last = log[-1] if log and isinstance(log[-1], dict) else {}
    output = " ".join(str(last.get("Output", "")).split())[:160]
    code = last.get("ExitCode")
    streak = health.get("FailingStreak", 0)
    detail = f"healthcheck unhealthy after {streak} failures"
    if code is not None:
        detail += f" (exit code {code}{': ' + output if output else ''})"
    return detail


def _engine_events(engine_events: list[dict[str, Any]], cursor: ContainerCursor) -> list[TargetEvent]:
    out: list[TargetEvent] = []
    for event in sorted(engine_events, key=lambda e: int(e.get("timeNano") or 0)):
        action = str(event.get("Action") or event.get("status") or "")
        key = f"{event.get('timeNano')}:{action}"
        if action not in ("die", "oom") or key in cursor.seen:
            continue
        cursor.seen.add(key)
        at = datetime.fromtimestamp(int(event.get("timeNano") or 0) / 1e9, UTC)
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        if action == "oom" and not cursor.oom:
            cursor.oom = True
            out.append(TargetEvent(EventKind.OOM_KILLED, at, detail="killed: out of memory"))
        elif action == "die":
            raw = str(attributes.get("exitCode", ""))
            code = int(raw) if raw.lstrip("-").isdigit() else None
            detail = f"container exited with code {code}"
            out.append(TargetEvent(EventKind.EXITED, at, detail=detail, exit_code=code))
    return out


def container_events(
    data: dict[str, Any] | None, engine_events: list[dict[str, Any]], cursor: ContainerCursor, now: datetime
) -> list[TargetEvent]:
    """Events of a container (its `inspect`, and the engine's events since the last call) that `cursor` has
    not seen yet (and advance it)."""
    out = _engine_events(engine_events, cursor)
    if data is None:
        if not cursor.gone:
            cursor.gone = True
            out.append(TargetEvent(EventKind.EXITED, now, detail="container no longer exists"))
        return sorted(out, key=lambda e: e.at)
    state = data.get("State") or {}
    started_at = docker_time(state.get("StartedAt"))
    if not cursor.started and started_at is not None:
        cursor.started = True
        out.append(TargetEvent(EventKind.STARTED, started_at, detail="container started"))
    error = str(state.get("Error") or "")
    if error and not cursor.error:
        cursor.error = True
        out.append(TargetEvent(EventKind.CONFIG_ERROR, now, detail=error[:300]))
    if state.get("OOMKilled") and not cursor.oom:
        cursor.oom = True
        out.append(TargetEvent(EventKind.OOM_KILLED, docker_time(state.get("FinishedAt")) or now))
    restarts = int(data.get("RestartCount") or 0)
    while cursor.restarts < restarts:
        cursor.restarts += 1
        cursor.restart_times.append(now)
        out.append(
            TargetEvent(EventKind.RESTARTED, now, detail=f"restart {cursor.restarts} (restart policy)")
        )
    recent = [t for t in cursor.restart_times if now - t <= CRASH_LOOP_WINDOW]
    if not cursor.crash_loop and len(recent) >= CRASH_LOOP_RESTARTS:
        cursor.crash_loop = True
        window = int(CRASH_LOOP_WINDOW.total_seconds())
        detail = f"restarted {len(recent)} times within {window}s"
        out.append(TargetEvent(EventKind.CRASH_LOOP, now, detail=detail))
    health = state.get("Health") or {}
    status = str(health.get("Status") or "")
    if status and status != cursor.health:
        previous, cursor.health = cursor.health, status
        if status == "unhealthy":
            out.append(TargetEvent(EventKind.INFO, now, detail=_health_detail(health)))
        elif status == "healthy" and previous:
            out.append(TargetEvent(EventKind.INFO, now, detail="healthcheck healthy"))
    out.sort(key=lambda e: e.at)
    return out
