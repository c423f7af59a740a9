"""Keep the newest Deployment and pods of one service in memory through API watches (no polling).

Each watch lists first (for the state and a resourceVersion), then watches from there; when the server ends a
watch (timeout, 410 Gone) it lists again. The deploy loop reads snapshots; it never waits on the network.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from tiation.targets.kubernetes.manifests import NAME_LABEL

_WATCH_SECONDS = 30


class ObjectWatch:
    """One list+watch loop on a thread, keeping `name -> raw object`."""

    def __init__(self, list_fn: Callable[..., Any], *, namespace: str, **selector: str) -> None:
        self._list_fn = list_fn
        self._namespace = namespace
        self._selector = selector
        self._objects: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._synced = threading.Event()
        self.version = 0  # bumped on every change, so readers can tell "nothing new"
        self.error: BaseException | None = None
        self._watch: Any = None
        self._thread = threading.Thread(target=self._run, name="tiation-kube-watch", daemon=True)

    def start(self) -> ObjectWatch:
        self._thread.start()
        return self

    def wait_synced(self, timeout: float) -> bool:
        """True once the first list has landed."""
        return self._synced.wait(timeout)

    def snapshot(self) -> tuple[int, list[dict[str, Any]]]:
        """(change counter, objects) as of now."""
        with self._lock:
            return self.version, list(self._objects.values())

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()

    def _replace(self, items: list[dict[str, Any]]) -> None:
        with self._lock:
            self._objects = {o["metadata"]["name"]: o for o in items}
            self.version += 1

    def _apply(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj.get("metadata", {}).get("name")
        if not name:
            return
        with self._lock:
            if kind == "DELETED":
                self._objects.pop(name, None)
            else:
                self._objects[name] = obj
            self.version += 1

    def _run(self) -> None:
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        while not self._stop.is_set():
            try:
                listed = self._list_fn(
                    self._namespace, _preload_content=False, _request_timeout=(5, 30), **self._selector
                )
                body = json.loads(listed.data)
                self._replace(list(body.get("items") or []))
                self._synced.set()
                rv = body.get("metadata", {}).get("resourceVersion")
                self._watch = watch.Watch()
                for event in self._watch.stream(
                    self._list_fn,
                    self._namespace,
                    resource_version=rv,
                    timeout_seconds=_WATCH_SECONDS,
                    allow_watch_bookmarks=False,
                    deserialize=False,
                    **self._selector,
                ):
                    if self._stop.is_set():
                        break
                    kind = event.get("type")
                    raw = event.get("raw_object") or event.get("object")
                    if kind == "ERROR" or not isinstance(raw, dict):
                        break  # e.g. 410 Gone: list again
                    self._apply(str(kind), raw)
            except ApiException as exc:
                if exc.status == 410:
                    continue
                self.error = exc
                self._synced.set()
                self._stop.wait(1.0)
            except Exception as exc:  # network trouble: keep trying until stopped
                self.error = exc
                self._synced.set()
                self._stop.wait(1.0)


class RolloutWatch:
    """The Deployment and the pods of one service, watched."""

    def __init__(self, core: Any, apps: Any, *, namespace: str, service: str) -> None:
        self.pods = ObjectWatch(
            core.list_namespaced_pod, namespace=namespace, label_selector=f"{NAME_LABEL}={service}"
        )
        self.deployments = ObjectWatch(
            apps.list_namespaced_deployment, namespace=namespace, field_selector=f"metadata.name={service}"
        )

    def start(self, timeout: float = 10.0) -> RolloutWatch:
        self.pods.start()
        self.deployments.start()
        self.pods.wait_synced(timeout)
        self.deployments.wait_synced(timeout)
        return self

    def deployment(self) -> dict[str, Any] | None:
        _, items = self.deployments.snapshot()
        return items[0] if items else None

    def stop(self) -> None:
        self.pods.stop()
        self.deployments.stop()
