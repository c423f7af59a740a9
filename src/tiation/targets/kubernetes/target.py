"""The `kubernetes` target: server-side apply of a release bundle, a watched rollout, bundle rollback.

`precheck` runs before (the deploy plan, or a rollback); `apply` server-side-applies the bundle (field manager
`tiation`); the Deployment's
surge-only rolling update starts new pods beside the old ones, and the Service only sends traffic to ready pods.
`events` classifies the new template's pods as they change (watches, not polling) and reports the controller's
own progress deadline; `rollout_ready` is kubectl's rollout-status check. `abort` re-applies the bundle that
served before (image *and* its ConfigMap) and waits until it is rolled out again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tiation.clock import Clock
from tiation.errors import TargetError
from tiation.targets.base import Endpoint, EventKind, Instance, Observed, Release, Rollout, TargetEvent
from tiation.targets.capabilities import Capabilities, TargetProbing
from tiation.targets.kubernetes import manifests as m
from tiation.targets.kubernetes.client import REQUEST_TIMEOUT, KubeApi
from tiation.targets.kubernetes.prechecks import precheck
from tiation.targets.kubernetes.rollout import RolloutStatus, classify_pod, pods_of, rollout_status
from tiation.targets.kubernetes.watch import RolloutWatch
from tiation.targets.probes import NATIVE_KINDS

RESTORE_TIMEOUT = 120.0  # how long abort waits for the previous bundle to be rolled out again


@dataclass
class _Active:
    """A rollout being verified: its watch and what was already reported."""

    release: Release
    previous: Release | None
    watch: RolloutWatch
    seen: set[tuple[str, str]] = field(default_factory=set)
    deadline_reported: bool = False


class KubernetesTarget:
    """Deploys services as Deployments in one namespace of one kubeconfig context."""

    kind = "kubernetes"

    def __init__(
        self,
        environment: str,
        *,
        namespace: str,
        context: str | None,
        kubeconfig: str | None,
        clock: Clock,
        progress_deadline_s: float | None = None,
    ) -> None:
        self.environment = environment
        self.namespace = namespace
        self.clock = clock
        self.api = KubeApi(kubeconfig=kubeconfig, context=context)
        self.progress_deadline_s = progress_deadline_s
        self._active: dict[str, _Active] = {}

    def capabilities(self) -> Capabilities:
        """Prechecks (Secrets, capacity, a server-side dry run); the cluster answers the probes it runs in the
        pod (the kinds rendered into the pod spec; the engine runs the others); secrets are the cluster's."""
        return Capabilities(
            precheck=self.precheck,
            probing=TargetProbing(self.cluster_probe, kinds=NATIVE_KINDS),
            secrets_on_target=True,
        )

    # -- reading ----------------------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise TargetError unless the cluster answers and the namespace exists (and may be read)."""
        try:
            self.api.core.read_namespace(self.namespace, _request_timeout=REQUEST_TIMEOUT)
            return
        except TargetError:
            raise
        except Exception as exc:
            status = getattr(exc, "status", None)
            if status == 404:
                raise TargetError(
                    f"namespace {self.namespace!r} does not exist ({self.api.where}); create it first"
                ) from None
            if status != 403:
                raise self.api.error(exc, f"reading namespace {self.namespace}") from None
        # A namespaced deployer may not read Namespace objects; reading its own Deployments must work.
        try:
            self.api.apps.list_namespaced_deployment(
                self.namespace, limit=1, _request_timeout=REQUEST_TIMEOUT
            )
        except Exception as exc:
            err = self.api.error(exc, f"listing deployments in {self.namespace}")
            if getattr(exc, "status", None) == 403:
                ns = self.namespace
                err.hint = f"a user with rights only inside namespace {ns!r} sees this too if it is missing"
            raise err from None

    def precheck(self, release: Release) -> list[str]:
        """What would stop `release` from running here: missing Secrets, no capacity (one line each)."""
        try:
            precheck(self.api, self.namespace, release)
            # A server-side dry run of the bundle: the namespace, RBAC, admission and schema all answer now.
            self._apply_objects(release, dry_run=True)
        except TargetError as exc:
            return [str(exc)]
        return []

    def _read_deployment(self, service: str) -> dict[str, Any] | None:
        try:
            resp = self.api.apps.read_namespaced_deployment(
                service, self.namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
            )
        except Exception as exc:
            if getattr(exc, "status", None) == 404:
                return None
            raise self.api.error(exc, f"reading deployment {service}") from None
        return dict(json.loads(resp.data))

    def observe(self, service: str) -> Observed:
        """The release the Deployment carries, `running` once its rollout is complete and some pod is available."""
        dep = self._read_deployment(service)
        if dep is None:
            return Observed(service=service, serving=None)
        release = m.release_of(dep)
        status = rollout_status(dep)
        available = int((dep.get("status") or {}).get("availableReplicas") or 0)
        if status.done and (available > 0 or int(dep["spec"].get("replicas", 1)) == 0):
            state = "running"
        elif status.failed:
            state = "exited"
        else:
            state = "starting"
        meta = dep["metadata"]
        annotations = meta.get("annotations") or {}
        digest = annotations.get(m.DIGEST_ANNOTATION, "")
        instance = Instance(
            id=f"{service}@{digest.removeprefix('sha256:')[:12] or meta.get('generation')}",
            version=annotations.get(m.VERSION_ANNOTATION, release.version if release else "unknown"),
            digest=digest,
            state=state,
            endpoint=self._endpoint(service, release.port if release else 0),
        )
        return Observed(service=service, serving=instance, instances=(instance,), public=instance.endpoint)

    def _endpoint(self, service: str, port: int) -> Endpoint:
        return Endpoint(f"{service}.{self.namespace}.svc", port)

    # -- changing ---------------------------------------------------------------------------------------------
    def _progress_deadline(self, release: Release) -> int:
        if self.progress_deadline_s is not None:
            return max(1, math.ceil(self.progress_deadline_s))
        deadline = release.workload.deadline_s
        return max(1, math.ceil(deadline if deadline is not None else 600.0))

    def _apply_objects(self, release: Release, *, dry_run: bool = False) -> None:
        for obj in m.bundle(release, self.namespace, progress_deadline_s=self._progress_deadline(release)):
            self.apply_object(obj, dry_run=dry_run)

    def apply_object(self, obj: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """Server-side apply one object (field manager `tiation`, taking over conflicting fields)."""
        kind, name = obj["kind"], obj["metadata"]["name"]
        namespace = obj["metadata"].get("namespace", self.namespace)
        method = _patch_method(self.api, kind)
        try:
            resp = method(
                name,
                namespace,
                dict(obj),
                field_manager=m.FIELD_MANAGER,
                force=True,
                dry_run="All" if dry_run else None,
                _content_type="application/apply-patch+yaml",
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT,
            )
        except Exception as exc:
            if getattr(exc, "status", None) == 404:
                raise TargetError(
                    f"namespace {namespace!r} does not exist ({self.api.where}); create it first"
                ) from None
            raise self.api.error(exc, f"applying {kind.lower()} {name}") from None
        return dict(json.loads(resp.data))

    def apply(self, release: Release) -> Rollout:
        """Check, then apply the bundle; the controller starts new pods beside the old ones."""
        if not release.image:
            raise TargetError(
                f"release {release.service} {release.version} has no image; set services.*.image"
            )
        svc = release.service
        self._forget(svc)
        current = self._read_deployment(svc)
        previous = m.release_of(current) if current is not None else None
        watch = RolloutWatch(self.api.core, self.api.apps, namespace=self.namespace, service=svc).start()
        try:
            self._apply_objects(release)
        except BaseException:
            watch.stop()
            raise
        self._active[svc] = _Active(release, previous, watch)
        return Rollout(
            release=release,
            instance_id=f"{svc}@{release.digest.removeprefix('sha256:')[:12]}",
            endpoint=self._endpoint(svc, release.port),
            started_at=self.clock.now(),
            previous_instance_id=(
                f"{svc}@{previous.digest.removeprefix('sha256:')[:12]}" if previous is not None else None
            ),
        )

    def events(self, rollout: Rollout) -> list[TargetEvent]:
        """New findings on the rollout's own pods, and the controller's progress deadline."""
        active = self._active.get(rollout.release.service)
        if active is None or active.release.digest != rollout.release.digest:
            return []
        out: list[TargetEvent] = []
        now = self.clock.now()
        _, pods = active.watch.pods.snapshot()
        for pod in pods_of(pods, rollout.release.digest):
            for finding in classify_pod(pod, now=now):
                key = (pod["metadata"]["name"], str(finding.kind))
                if key not in active.seen:
                    active.seen.add(key)
                    out.append(TargetEvent(finding.kind, now, finding.detail))
        status = self._status(active)
        if status is not None and status.failed and not active.deadline_reported:
            active.deadline_reported = True
            out.append(TargetEvent(EventKind.PROGRESS_DEADLINE, now, status.failed))
        return out

    def _status(self, active: _Active) -> RolloutStatus | None:
        dep = active.watch.deployment()
        if dep is None:
            return None
        digest = ((dep.get("metadata") or {}).get("annotations") or {}).get(m.DIGEST_ANNOTATION)
        if digest != active.release.digest:
            return RolloutStatus(False, "waiting for the applied template to be observed")
        return rollout_status(dep)

    def cluster_probe(self, endpoint: Endpoint, version: str) -> tuple[bool, str]:
        """The deploy engine's probe on this target: is the rollout behind `endpoint` complete?"""
        return self.rollout_ready(endpoint.host.split(".", 1)[0], version)

    def rollout_ready(self, service: str, version: str) -> tuple[bool, str]:
        """kubectl's rollout-status answer for the rollout of `service` at `version` (or the live Deployment)."""
        active = self._active.get(service)
        if active is not None and active.release.version == version:
            status = self._status(active)
            if status is None:
                return False, "deployment not seen yet"
            return status.done, status.message
        dep = self._read_deployment(service)
        if dep is None:
            return False, f"deployment {service} does not exist"
        status = rollout_status(dep)
        return status.done, status.message

    def promote(self, rollout: Rollout) -> None:
        """Nothing to switch: the Service already sends traffic to the new ready pods. Stop watching."""
        self._forget(rollout.release.service)

    def abort(self, rollout: Rollout) -> None:
        """Re-apply the bundle that served before and wait until it is rolled out; no previous → remove it."""
        svc = rollout.release.service
        active = self._active.get(svc)
        previous = active.previous if active is not None else None
        self._forget(svc)
        if previous is None or previous.digest == rollout.release.digest:
            self._delete_deployment(svc)
            return
        self._apply_objects(previous)
        self.wait_rolled_out(svc, previous.digest, timeout=RESTORE_TIMEOUT)

    def wait_rolled_out(self, service: str, digest: str, *, timeout: float) -> bool:
        """Watch until the Deployment carries `digest` and its rollout is complete (False on timeout)."""
        watch = RolloutWatch(self.api.core, self.api.apps, namespace=self.namespace, service=service).start()
        try:
            end = self.clock.monotonic() + timeout
            while self.clock.monotonic() < end:
                dep = watch.deployment()
                if dep is not None:
                    annotations = (dep.get("metadata") or {}).get("annotations") or {}
                    if annotations.get(m.DIGEST_ANNOTATION) == digest and rollout_status(dep).done:
                        return True
                self.clock.sleep(0.05)
            return False
        finally:
            watch.stop()

    def _delete_deployment(self, service: str) -> None:
        try:
            self.api.apps.delete_namespaced_deployment(
                service, self.namespace, propagation_policy="Background", _request_timeout=REQUEST_TIMEOUT
            )
        except Exception as exc:
            if getattr(exc, "status", None) != 404:
                raise self.api.error(exc, f"deleting deployment {service}") from None

    def _forget(self, service: str) -> None:
        active = self._active.pop(service, None)
        if active is not None:
            active.watch.stop()

    def discard(self, service: str, instance_id: str) -> None:
        """Kubernetes keeps one Deployment per service; a candidate is never a separate instance to discard."""
        observed = self.observe(service)
        if observed.serving is not None and observed.serving.id == instance_id:
            raise TargetError(f"refusing to discard {instance_id}: it is what {service} serves")

    def stop(self, service: str) -> None:
        """Delete the service's Deployment, Service and ConfigMaps."""
        self._forget(service)
        self._delete_deployment(service)
        selector = f"{m.NAME_LABEL}={service},{m.MANAGED_LABEL}=tiation"
        try:
            self.api.core.delete_namespaced_service(service, self.namespace, _request_timeout=REQUEST_TIMEOUT)
        except Exception as exc:
            if getattr(exc, "status", None) != 404:
                raise self.api.error(exc, f"deleting service {service}") from None
        try:
            self.api.core.delete_collection_namespaced_config_map(
                self.namespace, label_selector=selector, _request_timeout=REQUEST_TIMEOUT
            )
        except Exception as exc:
            raise self.api.error(exc, f"deleting config maps of {service}") from None

    def logs(self, service: str, *, instance_id: str | None = None, lines: int = 50) -> list[str]:
        """The newest Warning events of the service's pods (what the kubelet said), then container logs."""
        out: list[str] = []
        try:
            events = self.api.core.list_namespaced_event(
                self.namespace, field_selector="type=Warning", _request_timeout=REQUEST_TIMEOUT
            )
            for ev in sorted(events.items, key=lambda e: str(e.last_timestamp or e.event_time or "")):
                obj = ev.involved_object
                if obj is not None and obj.kind == "Pod" and str(obj.name).startswith(f"{service}-"):
                    out.append(f"{obj.name}: {ev.reason}: {ev.message}")
        except Exception as exc:
            out.append(f"(events unavailable: {self.api.error(exc, 'listing events')})")
        return out[-lines:]


_PATCH_METHODS = {
    "Deployment": ("AppsV1Api", "patch_namespaced_deployment"),
    "Service": ("CoreV1Api", "patch_namespaced_service"),
    "ConfigMap": ("CoreV1Api", "patch_namespaced_config_map"),
    "Secret": ("CoreV1Api", "patch_namespaced_secret"),
    "ServiceAccount": ("CoreV1Api", "patch_namespaced_service_account"),
    "Role": ("RbacAuthorizationV1Api", "patch_namespaced_role"),
    "RoleBinding": ("RbacAuthorizationV1Api", "patch_namespaced_role_binding"),
    "NetworkPolicy": ("NetworkingV1Api", "patch_namespaced_network_policy"),
    "PodDisruptionBudget": ("PolicyV1Api", "patch_namespaced_pod_disruption_budget"),
}


def _patch_method(api: KubeApi, kind: str) -> Any:
    """The typed client's PATCH for a namespaced `kind` (server-side apply goes through PATCH)."""
    from kubernetes import client

    found = _PATCH_METHODS.get(kind)
    if found is None:
        raise TargetError(f"cannot apply objects of kind {kind}")
    cls, method = found
    return getattr(getattr(client, cls)(api.client), method)
