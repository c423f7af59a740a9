"""Judging a Deployment rollout from plain objects (pure).

`rollout_status` is what `kubectl rollout status` checks for a Deployment (kubectl's DeploymentStatusViewer):
the controller must have observed the newest generation; `ProgressDeadlineExceeded` fails it; it is done when
every desired replica is updated, no old replica is left, and every updated replica is available.

`classify_pod` is the fail-fast part kubectl does not have: it reads one pod of the new template and names what
can never heal by waiting (a crash loop, an image that cannot be pulled, a config error, OOM, no node fits, a
readiness probe that kept failing past its own threshold).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tiation.targets.base import EventKind
from tiation.targets.kubernetes.manifests import DIGEST_ANNOTATION

PROGRESS_DEADLINE_REASON = "ProgressDeadlineExceeded"
_WAITING: Mapping[str, EventKind] = {
    "CrashLoopBackOff": EventKind.CRASH_LOOP,
    "ImagePullBackOff": EventKind.IMAGE_PULL_FAILED,
    "ErrImagePull": EventKind.IMAGE_PULL_FAILED,
    "ErrImageNeverPull": EventKind.IMAGE_PULL_FAILED,
    "InvalidImageName": EventKind.IMAGE_PULL_FAILED,
    "CreateContainerConfigError": EventKind.CONFIG_ERROR,
    "CreateContainerError": EventKind.CONFIG_ERROR,
    "RunContainerError": EventKind.CONFIG_ERROR,
}


@dataclass(frozen=True)
class RolloutStatus:
    """Where a Deployment rollout stands. `failed` is set only by the controller's own progress deadline."""

    done: bool
    message: str
    failed: str | None = None


def rollout_status(deployment: Mapping[str, Any]) -> RolloutStatus:
    """The rollout status of a Deployment object (as returned by the API, camelCase keys)."""
    name = deployment.get("metadata", {}).get("name", "?")
    generation = int(deployment.get("metadata", {}).get("generation") or 0)
    status = deployment.get("status") or {}
    if generation > int(status.get("observedGeneration") or 0):
        return RolloutStatus(False, "waiting for deployment spec update to be observed")
    for cond in status.get("conditions") or ():
        if cond.get("type") == "Progressing" and cond.get("reason") == PROGRESS_DEADLINE_REASON:
            why = f'deployment "{name}" exceeded its progress deadline'
            return RolloutStatus(False, why, failed=why)
    desired = deployment.get("spec", {}).get("replicas")
    desired = 1 if desired is None else int(desired)
    updated = int(status.get("updatedReplicas") or 0)
    replicas = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < desired:
        return RolloutStatus(False, f"{updated} out of {desired} new replicas have been updated")
    if replicas > updated:
        return RolloutStatus(False, f"{replicas - updated} old replicas are pending termination")
    if available < updated:
        return RolloutStatus(False, f"{available} of {updated} updated replicas are available")
    return RolloutStatus(True, f'deployment "{name}" successfully rolled out')


@dataclass(frozen=True)
class PodFinding:
    """Something about one pod that decides the rollout."""

    kind: EventKind
    detail: str


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _readiness_budget(probe: Mapping[str, Any] | None) -> float | None:
    """Seconds after the container started by which its readiness probe must have passed once."""
    if not probe:
        return None
    period = float(probe.get("periodSeconds", 10))
    return (
        float(probe.get("initialDelaySeconds", 0))
        + period * float(probe.get("failureThreshold", 3))
        + float(probe.get("timeoutSeconds", 1))
    )


def classify_pod(pod: Mapping[str, Any], *, now: datetime) -> list[PodFinding]:
    """What makes this pod of the new template a lost cause, if anything (empty list: nothing yet)."""
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return []
    name = meta.get("name", "?")
    status = pod.get("status") or {}
    findings: list[PodFinding] = []
    for cond in status.get("conditions") or ():
        scheduled = cond.get("type") == "PodScheduled" and cond.get("status") == "False"
        if scheduled and cond.get("reason") == "Unschedulable":
            why = cond.get("message") or "no node fits"
            findings.append(PodFinding(EventKind.UNSCHEDULABLE, f"pod {name}: {why}"))
    probes = {c.get("name"): c.get("readinessProbe") for c in (pod.get("spec") or {}).get("containers") or ()}
    for cs in status.get("containerStatuses") or ():
        cname = cs.get("name", "?")
        state = cs.get("state") or {}
        last = (cs.get("lastState") or {}).get("terminated") or {}
        terminated = state.get("terminated") or {}
        if "OOMKilled" in (last.get("reason"), terminated.get("reason")):
            findings.append(PodFinding(EventKind.OOM_KILLED, f"pod {name} container {cname} was OOMKilled"))
            continue
        waiting = state.get("waiting") or {}
        reason = str(waiting.get("reason") or "")
        if reason in _WAITING:
            message = waiting.get("message") or ""
            detail = f"pod {name} container {cname}: {reason}"
            if last.get("exitCode") is not None:
                detail += f" (last exit code {last['exitCode']})"
            if message:
                detail += f": {message}"
            findings.append(PodFinding(_WAITING[reason], detail))
            continue
        running = state.get("running") or {}
        budget = _readiness_budget(probes.get(cname))
        started = _parse_time(running.get("startedAt"))
        if running and not cs.get("ready") and budget is not None and started is not None:
            waited = (now - started).total_seconds()
            if waited > budget:
                detail = f"pod {name} container {cname}: not ready {waited:.0f}s after start (probe allows {budget:g}s)"
                findings.append(PodFinding(EventKind.NOT_READY, detail))
    return findings


def pods_of(pods: Sequence[Mapping[str, Any]], digest: str) -> list[Mapping[str, Any]]:
    """The pods whose template carries `digest` (the rollout's own pods, not the old ones)."""
    return [
        p
        for p in pods
        if ((p.get("metadata") or {}).get("annotations") or {}).get(DIGEST_ANNOTATION) == digest
    ]
