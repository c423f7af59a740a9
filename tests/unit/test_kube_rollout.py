"""The rollout-status check (as kubectl does it) and the fail-fast pod classifier, as data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tiation.targets.base import EventKind, Release
from tiation.targets.kubernetes import manifests as m
from tiation.targets.kubernetes.prechecks import fits, free_capacity
from tiation.targets.kubernetes.rollout import classify_pod, pods_of, rollout_status

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _dep(gen: int = 2, observed: int = 2, desired: int = 3, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "cms", "generation": gen},
        "spec": {"replicas": desired},
        "status": {"observedGeneration": observed, **status},
    }


@pytest.mark.parametrize(
    ("dep", "done", "message"),
    [
        (_dep(gen=3, observed=2), False, "waiting for deployment spec update to be observed"),
        (
            _dep(updatedReplicas=1, replicas=4, availableReplicas=3),
            False,
            "1 out of 3 new replicas have been updated",
        ),
        (
            _dep(updatedReplicas=3, replicas=4, availableReplicas=3),
            False,
            "1 old replicas are pending termination",
        ),
        (
            _dep(updatedReplicas=3, replicas=3, availableReplicas=2),
            False,
            "2 of 3 updated replicas are available",
        ),
        (
            _dep(updatedReplicas=3, replicas=3, availableReplicas=3),
            True,
            'deployment "cms" successfully rolled out',
        ),
        (_dep(desired=0), True, 'deployment "cms" successfully rolled out'),
    ],
)
def test_rollout_status_follows_kubectl(dep: dict[str, Any], done: bool, message: str) -> None:
    status = rollout_status(dep)
    assert (status.done, status.message, status.failed) == (done, message, None)


def test_progress_deadline_fails_the_rollout() -> None:
    cond = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    status = rollout_status(_dep(updatedReplicas=1, conditions=[cond]))
    assert not status.done
    assert status.failed == 'deployment "cms" exceeded its progress deadline'


def _pod(
    *statuses: dict[str, Any], conditions: list[dict[str, Any]] | None = None, **spec: Any
) -> dict[str, Any]:
    return {
        "metadata": {"name": "cms-abc", "annotations": {m.DIGEST_ANNOTATION: "sha256:1"}},
        "spec": {"containers": [{"name": "cms", **spec}]},
        "status": {"containerStatuses": list(statuses), "conditions": conditions or []},
    }


def _waiting(reason: str, message: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "name": "cms",
        "ready": False,
        "state": {"waiting": {"reason": reason, "message": message}},
        **extra,
    }


@pytest.mark.parametrize(
    ("pod", "kind", "needle"),
    [
        (
            _pod(_waiting("CrashLoopBackOff", "back-off 10s", lastState={"terminated": {"exitCode": 1}})),
            EventKind.CRASH_LOOP,
            "CrashLoopBackOff (last exit code 1): back-off 10s",
        ),
        (_pod(_waiting("ImagePullBackOff")), EventKind.IMAGE_PULL_FAILED, "ImagePullBackOff"),
        (_pod(_waiting("ErrImagePull", "not found")), EventKind.IMAGE_PULL_FAILED, "ErrImagePull: not found"),
        (_pod(_waiting("CreateContainerConfigError")), EventKind.CONFIG_ERROR, "CreateContainerConfigError"),
        (
            _pod(
                _waiting(
                    "CrashLoopBackOff", lastState={"terminated": {"reason": "OOMKilled", "exitCode": 137}}
                )
            ),
            EventKind.OOM_KILLED,
            "OOMKilled",
        ),
        (
            _pod(
                conditions=[
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/1 nodes",
                    }
                ]
            ),
            EventKind.UNSCHEDULABLE,
            "0/1 nodes",
        ),
    ],
)
def test_classifier_names_what_cannot_heal(pod: dict[str, Any], kind: EventKind, needle: str) -> None:
    findings = classify_pod(pod, now=NOW)
    assert [f.kind for f in findings] == [kind]
    assert needle in findings[0].detail


@pytest.mark.parametrize("reason", ["ContainerCreating", "PodInitializing"])
def test_classifier_waits_on_what_can_heal(reason: str) -> None:
    assert classify_pod(_pod(_waiting(reason)), now=NOW) == []


def test_readiness_fails_only_past_its_own_threshold() -> None:
    probe = {"periodSeconds": 2, "failureThreshold": 3, "initialDelaySeconds": 1, "timeoutSeconds": 1}  # 8 s

    def at(seconds: float) -> list[Any]:
        started = (NOW - timedelta(seconds=seconds)).isoformat()
        status = {"name": "cms", "ready": False, "state": {"running": {"startedAt": started}}}
        return classify_pod(_pod(status, readinessProbe=probe), now=NOW)

    assert at(7.9) == []
    [finding] = at(8.5)
    assert finding.kind is EventKind.NOT_READY
    assert "probe allows 8s" in finding.detail


def test_deleting_pods_and_ready_pods_are_not_judged() -> None:
    pod = _pod(_waiting("CrashLoopBackOff"))
    pod["metadata"]["deletionTimestamp"] = "2026-11-29T12:00:00Z"
    assert classify_pod(pod, now=NOW) == []
    ready = {"name": "cms", "ready": True, "state": {"running": {"startedAt": "2026-11-29T11:00:00Z"}}}
    assert classify_pod(_pod(ready, readinessProbe={"periodSeconds": 1}), now=NOW) == []


def test_only_the_rollouts_own_pods_are_picked() -> None:
    mine, old = _pod(), _pod()
    old["metadata"]["annotations"][m.DIGEST_ANNOTATION] = "sha256:0"
    assert pods_of([mine, old], "sha256:1") == [mine]


def test_capacity_first_fit() -> None:
    nodes = [{"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "2", "memory": "4Gi"}}}]
    pods = [
        {
            "spec": {"nodeName": "n1", "containers": [{"resources": {"requests": {"cpu": "500m"}}}]},
            "status": {"phase": "Running"},
        }
    ]
    free = free_capacity(nodes, pods)
    assert free["n1"]["cpu"] == Decimal("1.5")
    per_pod = {"cpu": Decimal("0.5"), "memory": Decimal(2**30)}
    assert fits(per_pod, 3, free) is None
    why = fits(per_pod, 4, free)
    assert why is not None and why.startswith("only 3 of 4 pods fit")


def _release(**kw: Any) -> Release:
    base: dict[str, Any] = {
        "environment": "prod",
        "service": "cms",
        "version": "1.2.0",
        "command": (),
        "port": 8080,
        "image": "registry.local/cms:1.2.0",
        "replicas": 2,
        "config": {"app.yaml": "mode: prod\n"},
        "workload": {"probes": [{"kind": "http", "path": "/health", "interval_s": 0.25}], "deadline_s": 8},
    }
    base.update(kw)
    return Release(**base)


def test_config_map_name_follows_content_and_template_names_it() -> None:
    one, two = _release(), _release(config={"app.yaml": "mode: debug\n"})
    assert m.config_map_name(one) != m.config_map_name(two)
    assert m.config_map_name(one) == m.config_map_name(_release(version="9.9.9"))
    dep = m.deployment(one, "ns", progress_deadline_s=30)
    pod = dep["spec"]["template"]["spec"]
    assert pod["volumes"][0]["configMap"]["name"] == m.config_map_name(one)
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert dep["spec"]["progressDeadlineSeconds"] == 30
    readiness = pod["containers"][0]["readinessProbe"]
    assert readiness["httpGet"] == {"path": "/health", "port": 8080} and readiness["periodSeconds"] == 1
    assert m.release_of(dep) == one


def test_secret_env_values_become_references_to_a_secret() -> None:
    from tiation.secrets import SecretRef

    rel = _release(env={"DATABASE_URL": SecretRef("env:DB_URL"), "MODE": "x"})
    env = m.container(rel)["env"]
    assert {
        "name": "DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": "cms-secrets", "key": "DATABASE_URL"}},
    } in env
    assert "DB_URL" not in str(m.deployment(rel, "ns", progress_deadline_s=5)["spec"]["template"])
