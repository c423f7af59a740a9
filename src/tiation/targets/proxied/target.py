"""What the `local` and `compose` targets share: instances on their own ports behind a per-service proxy.

An instance is a directory under `<area>/<environment>/<service>/instances/<id>`; `serving.json` names the one
the proxy sends traffic to. Promoting points the proxy at a candidate and retires the previous instance;
aborting retires only the candidate. How an instance runs, is retired, and is described is each target's own
(`_retire`, `_describe`, `_is_dead`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tiation.clock import Clock
from tiation.errors import TargetError
from tiation.private import private_dir
from tiation.targets.base import Endpoint, Instance, Observed, Rollout
from tiation.targets.capabilities import NO_CAPABILITIES, Capabilities
from tiation.targets.proxied.common import atomic_write_json, read_json
from tiation.targets.proxied.control import ProxyControl
from tiation.targets.proxied.instances import InstanceFiles, ServicePaths
from tiation.targets.proxied.spec import safe_name

KEEP_STOPPED = 5  # retired instances (directory and log) kept per service


class ProxiedTarget:
    """Base of the targets that run blue/green instances behind a proxy on the service's public port."""

    area = "local"  # the directory under the root, and under logs/
    id_format = "%Y%m%dT%H%M%S"  # instance ids start with the creation time in this format

    def __init__(self, root: Path, environment: str, *, host: str, clock: Clock) -> None:
        # Absolute: supervisors and proxies are recognised by the paths on their command lines.
        self.root = Path(root).resolve()
        self.environment = safe_name(environment, "environment")
        self.host = host
        self.clock = clock
        self._cursors: dict[str, Any] = {}

    def capabilities(self) -> Capabilities:
        """None: the deploy engine probes instances itself, and secrets are resolved on this host."""
        return NO_CAPABILITIES

    # -- hooks ------------------------------------------------------------------------------------------------
    def _retire(self, files: InstanceFiles) -> None:
        """Stop or remove one instance (never called for the serving one except on promote/stop)."""
        raise NotImplementedError

    def _describe(self, files: InstanceFiles) -> Instance:
        """The instance as the protocol reports it."""
        raise NotImplementedError

    def _is_dead(self, files: InstanceFiles) -> bool:
        """True when nothing of the instance runs any more (its files may be deleted)."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------------------------------
    def _paths(self, service: str) -> ServicePaths:
        return ServicePaths(self.root, self.environment, safe_name(service, "service"), area=self.area)

    def _proxy(self, paths: ServicePaths) -> ProxyControl:
        return ProxyControl(paths, self.host, self.clock)

    def _check_root(self) -> None:
        """Raise TargetError unless the root is writable."""
        try:
            if self.root.name == ".tiation" or not self.root.exists():
                private_dir(self.root)
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".check-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise TargetError(f"{self.root} is not writable: {exc.strerror or exc}") from None

    def _check_environment(self, environment: str) -> None:
        if environment != self.environment:
            raise TargetError(f"release is for {environment!r}, this target is {self.environment!r}")

    def _new_instance(self, paths: ServicePaths) -> InstanceFiles:
        for _ in range(10):
            instance_id = f"{self.clock.now().strftime(self.id_format)}-{os.urandom(2).hex()}"
            files = paths.instance(instance_id)
            try:
                files.dir.mkdir(parents=True)
            except FileExistsError:
                continue
            return files
        raise TargetError(f"cannot allocate an instance id under {paths.instances_dir}")

    def _switch_to(
        self,
        rollout: Rollout,
        files: InstanceFiles,
        where: Endpoint,
        drain_of: Callable[[InstanceFiles], float],
    ) -> None:
        """Point the proxy at `files` (serving on `where`), then retire the instances it replaces. Idempotent."""
        release = rollout.release
        paths = self._paths(release.service)
        previous = [i for i in {paths.serving_id(), rollout.previous_instance_id} if i and i != files.id]
        control = self._proxy(paths)
        proxy = control.ensure(release.port)
        serving = {
            "instance_id": files.id,
            "host": where.host,
            "port": where.port,
            "version": release.version,
            "digest": release.digest,
            "since": self.clock.now().isoformat(),
        }
        current = read_json(paths.serving) or {}
        if current.get("instance_id") != files.id:
            atomic_write_json(paths.serving, serving)
        drain = max([drain_of(paths.instance(i)) for i in previous] or [1.0])
        control.switch(proxy, files.id, drain)
        for instance_id in previous:
            self._retire(paths.instance(instance_id))
        self._collect_garbage(paths)

    def abort(self, rollout: Rollout) -> None:
        """Retire the candidate; the serving instance is not touched."""
        self.discard(rollout.release.service, rollout.instance_id)

    def discard(self, service: str, instance_id: str) -> None:
        """Retire an instance that is not serving (e.g. a candidate left behind); refuse the serving one."""
        paths = self._paths(service)
        files = paths.instance(safe_name(instance_id, "instance"))
        if paths.serving_id() == instance_id:
            raise TargetError(f"{instance_id} is serving {service}; it cannot be discarded")
        if not files.dir.is_dir():
            raise TargetError(f"no instance {instance_id} of {service}")
        self._retire(files)
        self._collect_garbage(paths)

    def observe(self, service: str) -> Observed:
        """The serving instance, every instance on file, and the public endpoint if the proxy runs."""
        paths = self._paths(service)
        serving_id = paths.serving_id()
        instances = tuple(self._describe(f) for f in paths.all_instances())
        serving = next((i for i in instances if i.id == serving_id), None)
        proxy = paths.proxy_running()
        public = Endpoint(str(proxy["host"]), int(proxy["port"])) if proxy else None
        proxy_down = serving is not None and serving.state == "running" and proxy is None
        return Observed(service, serving, instances, public, proxy_down=proxy_down)

    def _log_files(self, service: str, instance_id: str | None) -> InstanceFiles | None:
        """The instance whose log `logs` reads: `instance_id`, else the serving, else the newest (None: none)."""
        paths = self._paths(service)
        if instance_id is not None:
            files = paths.instance(safe_name(instance_id, "instance"))
            if not files.dir.is_dir() and not files.log.is_file():
                raise TargetError(f"no instance {instance_id} of {service}")
            return files
        chosen = paths.serving_id() or next((f.id for f in reversed(paths.all_instances())), None)
        return paths.instance(chosen) if chosen is not None else None

    def _collect_garbage(self, paths: ServicePaths) -> None:
        """Delete all but the newest KEEP_STOPPED dead instances (directory and log); never a live one."""
        serving = paths.serving_id()
        dead = [f for f in paths.all_instances() if f.id != serving and self._is_dead(f)]
        for files in dead[:-KEEP_STOPPED] if len(dead) > KEEP_STOPPED else []:
            shutil.rmtree(files.dir, ignore_errors=True)
            files.log.unlink(missing_ok=True)
            self._cursors.pop(files.id, None)
