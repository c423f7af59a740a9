"""The shared Kubernetes objects of a rendered Kustomize base: RBAC, NetworkPolicies, PodDisruptionBudgets (pure).

- `deployment-manager`: a ServiceAccount and a namespaced Role + RoleBinding with exactly what tiation's
  `kubernetes` target does in a namespace (server-side apply of Deployments, Services and ConfigMaps; reading
  ReplicaSets, Pods and Events to watch a rollout; reading Secrets to check that referenced names and keys
  exist). Checking that the namespace exists needs `get` on `namespaces`, which is cluster-scoped and cannot be
  granted by a Role; see `NAMESPACE_NOTE`.
- NetworkPolicies: deny all ingress and egress in the namespace, allow DNS, and for every `depends_on` edge
  (A depends on B) allow A's pods to reach B's pods on B's port — as egress from A and ingress to B, since
  the default deny covers both directions.
- A PodDisruptionBudget per service.

Objects carry no namespace: the overlay's `namespace:` sets it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tiation.targets.kubernetes.manifests import MANAGED_LABEL, NAME_LABEL

MANAGER = "deployment-manager"
"""Name of the ServiceAccount, Role and RoleBinding (the seed's `deployment-manager`)."""
DEFAULT_DENY = "default-deny"
ALLOW_DNS = "allow-dns"

RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # (API group, resource, verbs). Server-side apply is a PATCH; applying an object that does not exist yet
    # also needs `create`. `delete` only where tiation deletes: the Deployment of a first release that failed,
    # and what `tiation stop` removes. No `update`, and no `list` where tiation does not list.
    ("apps", "deployments", ("create", "delete", "get", "list", "patch", "watch")),
    ("apps", "replicasets", ("get", "list", "watch")),
    ("", "configmaps", ("create", "deletecollection", "get", "patch")),
    ("", "events", ("get", "list", "watch")),
    ("", "pods", ("get", "list", "watch")),
    ("", "secrets", ("get",)),
    ("", "services", ("create", "delete", "get", "patch")),
)
"""What the `kubernetes` target needs in its namespace, and nothing more."""

NAMESPACE_NOTE = (
    "The precheck `namespace exists` reads the Namespace object, which is cluster-scoped: a Role cannot grant it.\n"
    "Without a ClusterRole allowing `get` on `namespaces` (ideally with `resourceNames: [<namespace>]`), that\n"
    "check sees 403 Forbidden. It is not rendered here, to keep the grant namespaced."
)

PDB_NOTE = (
    "minAvailable: 1 when the service has more than one replica: a voluntary disruption (node drain) may take\n"
    "pods away only while another one is ready. With one replica (or none) that rule could never be met and\n"
    "would block every drain, so the budget is maxUnavailable: 1 instead: a drain may evict the single pod,\n"
    "and the service is briefly down, as any single-replica service is when its node goes."
)


def _meta(name: str, service: str | None = None) -> dict[str, Any]:
    labels = {MANAGED_LABEL: "tiation"}
    if service is not None:
        labels[NAME_LABEL] = service
    return {"name": name, "labels": labels}


def service_account() -> dict[str, Any]:
    """The ServiceAccount tiation's `kubernetes` target runs as (its token is not mounted into any pod)."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(MANAGER),
        "automountServiceAccountToken": False,
    }


def role() -> dict[str, Any]:
    """The least-privilege Role of the `kubernetes` target (`RULES`)."""
    rules = [
        {"apiGroups": [group], "resources": [resource], "verbs": list(verbs)}
        for group, resource, verbs in RULES
    ]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(MANAGER),
        "rules": rules,
    }


def role_binding(namespace: str | None = None) -> dict[str, Any]:
    """Binds the Role to the ServiceAccount of the same namespace (`namespace` set in a fully built overlay)."""
    subject: dict[str, Any] = {"kind": "ServiceAccount", "name": MANAGER}
    if namespace is not None:
        subject["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(MANAGER),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": MANAGER},
        "subjects": [subject],
    }


def default_deny() -> dict[str, Any]:
    """Deny every ingress and egress of every pod in the namespace; the allow policies open what is needed."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(DEFAULT_DENY),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def allow_dns() -> dict[str, Any]:
    """Every pod may resolve names: egress on port 53 (UDP and TCP) to any destination.

    Not narrowed to kube-system's DNS pods, because node-local DNS caches listen on the node (host network),
    which a pod selector cannot match.
    """
    ports = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(ALLOW_DNS),
        "spec": {"egress": [{"ports": ports}], "podSelector": {}, "policyTypes": ["Egress"]},
    }


def _pods(service: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {NAME_LABEL: service}}}


def network_policy(
    service: str, port: int, dependents: Sequence[str], dependencies: Mapping[str, int]
) -> dict[str, Any] | None:
    """What `depends_on` allows for `service`, or None when it has no edges.

    Ingress: from the pods of every service that depends on it (`dependents`), on its own `port`.
    Egress: to the pods of every service it depends on (`dependencies`: name -> port), on that service's port.
    """
    spec: dict[str, Any] = {"podSelector": {"matchLabels": {NAME_LABEL: service}}}
    types: list[str] = []
    if dependents:
        spec["ingress"] = [
            {"from": [_pods(d) for d in sorted(dependents)], "ports": [{"port": port, "protocol": "TCP"}]}
        ]
        types.append("Ingress")
    if dependencies:
        spec["egress"] = [
            {"ports": [{"port": p, "protocol": "TCP"}], "to": [_pods(d)]}
            for d, p in sorted(dependencies.items())
        ]
        types.append("Egress")
    if not types:
        return None
    spec["policyTypes"] = types
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(f"{service}-allow", service),
        "spec": spec,
    }


def pod_disruption_budget(service: str, replicas: int) -> dict[str, Any]:
    """The service's PodDisruptionBudget: see `PDB_NOTE` for minAvailable vs maxUnavailable."""
    budget = {"minAvailable": 1} if replicas > 1 else {"maxUnavailable": 1}
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(service, service),
        "spec": {**budget, "selector": {"matchLabels": {NAME_LABEL: service}}},
    }
