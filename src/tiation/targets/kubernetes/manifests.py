"""Kubernetes objects of a release bundle, as plain data (pure).

A bundle is the Deployment, its Service, and a ConfigMap whose name carries a hash of its content. The pod
template names that ConfigMap, so re-applying an old bundle brings back the config the old code read, not just
its image; ConfigMaps are immutable and never edited in place. The whole release record rides along in a
Deployment annotation, which is what makes "roll back to the bundle that served before" exact.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from tiation.secrets import SecretRef
from tiation.targets.base import Release
from tiation.targets.probes import CommandProbe, HttpProbe, ProbeSpec, TcpProbe

FIELD_MANAGER = "tiation"
NAME_LABEL = "app.kubernetes.io/name"
MANAGED_LABEL = "app.kubernetes.io/managed-by"
ENV_LABEL = "tiation.dev/environment"
VERSION_LABEL = "app.kubernetes.io/version"
DIGEST_ANNOTATION = "tiation.dev/digest"
VERSION_ANNOTATION = "tiation.dev/version"
RELEASE_ANNOTATION = "tiation.dev/release"
CONFIG_DIR = "/etc/tiation/config"
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9._-]")


def label_value(text: str) -> str:
    """`text` made a valid label value (<= 63 chars of [A-Za-z0-9._-], alphanumeric at both ends)."""
    value = _LABEL_VALUE.sub("-", text)[:63].strip("._-")
    return value or "none"


def secrets_name(service: str) -> str:
    """The Secret that holds a service's secret env values (key = variable name)."""
    return f"{service}-secrets"


def config_map_name(release: Release) -> str | None:
    """`<service>-config-<10 hex of the content hash>`, or None when the release ships no config files."""
    if not release.config:
        return None
    blob = json.dumps(dict(release.config), sort_keys=True, separators=(",", ":"))
    return f"{release.service}-config-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


def _meta(release: Release, namespace: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {
            NAME_LABEL: release.service,
            MANAGED_LABEL: "tiation",
            ENV_LABEL: label_value(release.environment),
        },
    }


def config_map(release: Release, namespace: str) -> dict[str, Any] | None:
    """The release's config files as an immutable ConfigMap (None without config)."""
    name = config_map_name(release)
    if name is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(release, namespace, name),
        "immutable": True,
        "data": dict(sorted(release.config.items())),
    }


def probe_manifest(probe: ProbeSpec, release: Release) -> dict[str, Any] | None:
    """A Kubernetes probe from one of the release's probe specs; None for a kind with no Kubernetes
    equivalent (such a probe is not in the pod spec: the deploy engine runs it itself)."""
    out: dict[str, Any]
    if isinstance(probe, HttpProbe):
        out = {"httpGet": {"path": probe.path or "/", "port": probe.port or release.port}}
    elif isinstance(probe, TcpProbe):
        out = {"tcpSocket": {"port": probe.port or release.port}}
    elif isinstance(probe, CommandProbe):
        out = {"exec": {"command": list(probe.command)}}
    else:
        return None
    out.update(
        {
            "periodSeconds": max(1, math.ceil(float(probe.interval_s))),
            "timeoutSeconds": max(1, math.ceil(float(probe.timeout_s))),
            "initialDelaySeconds": math.ceil(float(probe.initial_delay_s)),
            "successThreshold": int(probe.success_threshold),
            "failureThreshold": int(probe.failure_threshold),
        }
    )
    return out


def _env(release: Release) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": "PORT", "value": str(release.port)}]
    for name, value in sorted(release.env.items()):
        if isinstance(value, SecretRef):
            # The value lives in the cluster; the manifest only names where.
            ref = {"name": secrets_name(release.service), "key": name}
            env.append({"name": name, "valueFrom": {"secretKeyRef": ref}})
        else:
            env.append({"name": name, "value": value})
    return env


def container(release: Release) -> dict[str, Any]:
    """The service's container: image, port, env, config mount, probes, resources."""
    workload = release.workload
    spec: dict[str, Any] = {
        "name": release.service,
        "image": release.image,
        "ports": [{"name": "http", "containerPort": release.port}],
        "env": _env(release),
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    if workload.env_secrets:
        spec["envFrom"] = [{"secretRef": {"name": name}} for name in workload.env_secrets]
    # The first probe Kubernetes can run is the pod's readiness and liveness probe.
    native = workload.native_probes
    readiness = probe_manifest(native[0], release) if native else None
    liveness = probe_manifest(native[0], release) if native else None
    if readiness is not None and liveness is not None:
        spec["readinessProbe"] = readiness
        # Liveness restarts a container; give a slow start the whole verify deadline first.
        deadline = workload.deadline_s if workload.deadline_s is not None else 30
        liveness["initialDelaySeconds"] = max(liveness["initialDelaySeconds"], math.ceil(float(deadline)))
        liveness["successThreshold"] = 1
        spec["livenessProbe"] = liveness
    resources = {k: dict(v) for k, v in workload.resources.items() if v}
    if resources:
        spec["resources"] = resources
    if release.config:
        spec["volumeMounts"] = [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}]
    return spec


def deployment(release: Release, namespace: str, *, progress_deadline_s: int) -> dict[str, Any]:
    """The Deployment of a release: a surge-only rolling update (old pods serve until new ones are ready)."""
    if not release.image:
        raise ValueError(f"release {release.service} {release.version} has no image")
    pod_labels = {NAME_LABEL: release.service, VERSION_LABEL: label_value(release.version)}
    pod_annotations = {DIGEST_ANNOTATION: release.digest, VERSION_ANNOTATION: release.version}
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "containers": [container(release)],
        "terminationGracePeriodSeconds": max(1, math.ceil(release.stop_timeout)),
    }
    cm = config_map_name(release)
    if cm is not None:
        pod_spec["volumes"] = [{"name": "config", "configMap": {"name": cm}}]
    meta = _meta(release, namespace, release.service)
    meta["annotations"] = {
        DIGEST_ANNOTATION: release.digest,
        VERSION_ANNOTATION: release.version,
        RELEASE_ANNOTATION: json.dumps(release.to_dict(), sort_keys=True, separators=(",", ":")),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": release.replicas,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": progress_deadline_s,
            "selector": {"matchLabels": {NAME_LABEL: release.service}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": pod_labels, "annotations": pod_annotations},
                "spec": pod_spec,
            },
        },
    }


def service(release: Release, namespace: str) -> dict[str, Any]:
    """A ClusterIP Service in front of the Deployment's ready pods."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(release, namespace, release.service),
        "spec": {
            "type": "ClusterIP",
            "selector": {NAME_LABEL: release.service},
            "ports": [{"name": "http", "port": release.port, "targetPort": "http"}],
        },
    }


def bundle(release: Release, namespace: str, *, progress_deadline_s: int) -> list[dict[str, Any]]:
    """Every object of a release, in apply order: ConfigMap first (the template names it), then Deployment."""
    objects: list[dict[str, Any]] = []
    cm = config_map(release, namespace)
    if cm is not None:
        objects.append(cm)
    objects.append(deployment(release, namespace, progress_deadline_s=progress_deadline_s))
    objects.append(service(release, namespace))
    return objects


def release_of(deployment_obj: Mapping[str, Any]) -> Release | None:
    """The release recorded on a live Deployment (None when tiation did not apply it)."""
    annotations = deployment_obj.get("metadata", {}).get("annotations") or {}
    raw = annotations.get(RELEASE_ANNOTATION)
    if not raw:
        return None
    return Release.from_dict(json.loads(raw))
