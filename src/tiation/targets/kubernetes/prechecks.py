"""What the seed's `pre-deploy-check.sh` checked, against the API: Secrets and capacity (the namespace is the
target's `check`).

Secrets are checked by name and key only; their values are never read into output, logs or errors.
Capacity compares the new pods' requests with what the schedulable nodes have left (allocatable minus the
requests of pods already there). A deployer that may not list nodes or pods cluster-wide skips that check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from tiation.errors import TargetError
from tiation.secrets import SecretRef
from tiation.targets.base import Release
from tiation.targets.kubernetes.client import REQUEST_TIMEOUT, KubeApi
from tiation.targets.kubernetes.manifests import secrets_name

_RESOURCES = ("cpu", "memory")


def precheck(api: KubeApi, namespace: str, release: Release) -> None:
    """Raise TargetError (one line) if the release cannot run in `namespace` as it stands."""
    # The namespace is checked by `KubernetesTarget.check` and, for every object, by the dry run that follows.
    _secrets(api, namespace, release)
    _capacity(api, release)


def _secret_keys(api: KubeApi, namespace: str, name: str, service: str) -> set[str]:
    try:
        secret = api.core.read_namespaced_secret(name, namespace, _request_timeout=REQUEST_TIMEOUT)
    except Exception as exc:
        if getattr(exc, "status", None) == 404:
            raise TargetError(
                f"secret {name!r} needed by {service} does not exist in namespace {namespace!r}"
            ) from None
        raise api.error(exc, f"reading secret {name}") from None
    # Only the key names are kept; the values are dropped here.
    return set((secret.data or {}).keys()) | set((secret.string_data or {}).keys())


def _secrets(api: KubeApi, namespace: str, release: Release) -> None:
    for name in release.workload.env_secrets:
        _secret_keys(api, namespace, str(name), release.service)
    wanted = sorted(k for k, v in release.env.items() if isinstance(v, SecretRef))
    if wanted:
        name = secrets_name(release.service)
        keys = _secret_keys(api, namespace, name, release.service)
        missing = [k for k in wanted if k not in keys]
        if missing:
            raise TargetError(
                f"secret {name!r} in namespace {namespace!r} has no key {', '.join(missing)} "
                f"(needed by {release.service})"
            )


def _quantity(text: Any) -> Decimal:
    from kubernetes.utils import parse_quantity

    return Decimal(parse_quantity(text))


def _requests_of(containers: Iterable[Mapping[str, Any]]) -> dict[str, Decimal]:
    total = dict.fromkeys(_RESOURCES, Decimal(0))
    for c in containers:
        requests = ((c.get("resources") or {}).get("requests")) or {}
        for r in _RESOURCES:
            if requests.get(r) is not None:
                total[r] += _quantity(requests[r])
    return total


def free_capacity(
    nodes: Iterable[Mapping[str, Any]], pods: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, Decimal]]:
    """Per schedulable node, allocatable minus the requests of its running or pending pods (pure)."""
    free: dict[str, dict[str, Decimal]] = {}
    for node in nodes:
        if (node.get("spec") or {}).get("unschedulable"):
            continue
        alloc = (node.get("status") or {}).get("allocatable") or {}
        free[node["metadata"]["name"]] = {r: _quantity(alloc.get(r, "0")) for r in _RESOURCES}
    for pod in pods:
        node_name = (pod.get("spec") or {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        if node_name not in free or phase in ("Succeeded", "Failed"):
            continue
        for r, amount in _requests_of((pod.get("spec") or {}).get("containers") or ()).items():
            free[node_name][r] -= amount
    return free


def fits(
    per_pod: Mapping[str, Decimal], replicas: int, free: Mapping[str, Mapping[str, Decimal]]
) -> str | None:
    """Why `replicas` pods of `per_pod` requests cannot be placed on `free` (first fit), or None (pure)."""
    left = {node: dict(res) for node, res in free.items()}
    for i in range(replicas):
        node = next((n for n, res in left.items() if all(res[r] >= per_pod[r] for r in _RESOURCES)), None)
        if node is None:
            want = ", ".join(f"{r} {per_pod[r].normalize()}" for r in _RESOURCES if per_pod[r])
            return f"only {i} of {replicas} pods fit (each requests {want}) on {len(free)} schedulable nodes"
        for r in _RESOURCES:
            left[node][r] -= per_pod[r]
    return None


def _capacity(api: KubeApi, release: Release) -> None:
    requests = release.workload.resources.get("requests") or {}
    per_pod = {r: _quantity(requests[r]) if requests.get(r) else Decimal(0) for r in _RESOURCES}
    if not any(per_pod.values()) or release.replicas == 0:
        return
    try:
        nodes = api.core.list_node(_request_timeout=REQUEST_TIMEOUT)
        pods = api.core.list_pod_for_all_namespaces(_request_timeout=REQUEST_TIMEOUT)
    except Exception as exc:
        if getattr(exc, "status", None) == 403:
            return  # the deployer may not see the whole cluster; the scheduler will still say Unschedulable
        raise api.error(exc, "reading node capacity") from None
    sanitize = api.client.sanitize_for_serialization
    free = free_capacity(
        (sanitize(n) for n in nodes.items),
        (sanitize(p) for p in pods.items if not _same_service(sanitize(p), release.service)),
    )
    why = fits(per_pod, release.replicas, free)
    if why is not None:
        raise TargetError(f"not enough capacity for {release.service} {release.version}: {why}")


def _same_service(pod: Mapping[str, Any], service: str) -> bool:
    """Pods of the service being deployed are replaced, so they do not count against it."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return bool(labels.get("app.kubernetes.io/name") == service)
