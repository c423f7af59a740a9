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


def _port_of(probe: Mapping[str, Any], release: Release) -> int:
    port = probe.get("port")
    return int(port) if port else release.port


def probe_manifest(probe: Mapping[str, Any], release: Release) -> dict[str, Any]:
    """A Kubernetes probe from one of the release's probe specs (`workload["probes"]`)."""
    kind = probe["kind"]
    out: dict[str, Any]
    if kind == "http":
        out = {"httpGet": {"path": probe.get("path") or "/", "port": _port_of(probe, release)}}
    elif kind == "tcp":
        out = {"tcpSocket": {"port": _port_of(probe, release)}}
    else:
        out = {"exec": {"command": [str(a) for a in probe["command"]]}}
    out.update(
        {
            "periodSeconds": max(1, math.ceil(float(probe.get("interval_s", 10)))),
            "timeoutSeconds": max(1, math.ceil(float(probe.get("timeout_s", 1)))),
            "initialDelaySeconds": math.ceil(float(probe.get("initial_delay_s", 0))),
            "successThreshold": int(probe.get("success_threshold", 1)),
            "failureThreshold": int(probe.get("failure_threshold", 3)),
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
    if workload.get("env_secrets"):
        spec["envFrom"] = [{"secretRef": {"name": name}} for name in workload["env_secrets"]]
    probes = list(workload.get("probes", ()))
    if probes:
        spec["readinessProbe"] = probe_manifest(probes[0], release)
        liveness = probe_manifest(probes[0], release)
        # Liveness restarts a container; give a slow start the whole verify deadline first.
        liveness["initialDelaySeconds"] = max(
            liveness["initialDelaySeconds"], math.ceil(float(workload.get("deadline_s", 30)))
        )
        liveness["successThreshold"] = 1
        spec["livenessProbe"] = liveness
    resources = {k: v for k, v in dict(workload.get("resources", {})).items() if v}
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
