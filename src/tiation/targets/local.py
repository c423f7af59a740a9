"""The `local` target: services as detached, supervised processes on this host, switched blue/green.

Each instance runs under its own supervisor (`local_supervisor`), a detached process that outlives the CLI and
restarts the service with backoff. Clients reach a service through its proxy (`local_proxy`) on the public
port, which forwards each new connection to the instance named in `serving.json`; promoting a candidate
rewrites that file, waits until the proxy has switched and drained, then stops the previous instance.

Layout under the root (`.tiation`):
    local/<environment>/<service>/serving.json, proxy.json, proxy.pid
    local/<environment>/<service>/instances/<id>/spec.json, status.json, supervisor.pid, config/
    logs/<environment>/<service>/<id>.log, proxy.log
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from tiation.clock import Clock
from tiation.errors import TargetError
from tiation.redact import redact
from tiation.targets.base import Endpoint, Observed, Release, Rollout, TargetEvent
from tiation.targets.local_common import (
    atomic_write_json,
    free_port,
    read_json,
    signal_pid,
    tail_lines,
)
from tiation.targets.local_instances import (
    SUPERVISOR_MODULE,
    EventCursor,
    InstanceFiles,
    ServicePaths,
    live_state,
    new_events,
    stop_instance,
    to_instance,
)
from tiation.targets.local_spec import build_spec, config_paths, safe_name, write_config
from tiation.targets.proxy_control import ProxyControl, launch_detached

KEEP_STOPPED = 5  # stopped instances (directory and log) kept per service


class LocalTarget:
    """Runs services as supervised processes on this host, behind a per-service TCP proxy."""

    kind = "local"

    def __init__(self, root: Path, environment: str, *, host: str = "127.0.0.1", clock: Clock) -> None:
        # Absolute: supervisors and proxies are recognised by the paths on their command lines.
        self.root = Path(root).resolve()
        self.environment = safe_name(environment, "environment")
        self.host = host
        self.clock = clock
        self._cursors: dict[str, EventCursor] = {}

    def _paths(self, service: str) -> ServicePaths:
        return ServicePaths(self.root, self.environment, safe_name(service, "service"))

    def _proxy(self, paths: ServicePaths) -> ProxyControl:
        return ProxyControl(paths, self.host, self.clock)

    def check(self) -> None:
        """Raise TargetError unless the root is writable and the host can be listened on."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".check-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise TargetError(f"{self.root} is not writable: {exc.strerror or exc}") from None
        try:
            free_port(self.host)
        except OSError as exc:
            raise TargetError(f"cannot listen on {self.host}: {exc.strerror or exc}") from None

    def _new_instance(self, paths: ServicePaths) -> InstanceFiles:
        for _ in range(10):
            instance_id = f"{self.clock.now():%Y%m%dT%H%M%S}-{os.urandom(2).hex()}"
            files = paths.instance(instance_id)
            try:
                files.dir.mkdir(parents=True)
            except FileExistsError:
                continue
            return files
        raise TargetError(f"cannot allocate an instance id under {paths.instances_dir}")

    def apply(self, release: Release) -> Rollout:
        """Start a supervised candidate on a free port; return at once (the engine probes the endpoint)."""
        if release.environment != self.environment:
            raise TargetError(f"release is for {release.environment!r}, this target is {self.environment!r}")
        paths = self._paths(release.service)
        self._proxy(paths).check_public_port(release.port)
        config = config_paths(release.config)
        previous = paths.serving_id()
        files = self._new_instance(paths)
        port = free_port(self.host)
        try:
            write_config(files, config)
            spec = build_spec(
                release, files, host=self.host, port=port, created_at=self.clock.now().isoformat()
            )
            atomic_write_json(files.spec, spec)
        except OSError as exc:
            raise TargetError(f"cannot prepare instance {files.id}: {exc.strerror or exc}") from None
        launch_detached(
            [SUPERVISOR_MODULE, "--spec", str(files.spec)],
            files.log,
            files.pid_file,
            f"supervisor of {files.id}",
        )
        return Rollout(release, files.id, Endpoint(self.host, port), self.clock.now(), previous)

    def events(self, rollout: Rollout) -> list[TargetEvent]:
        """Events of the candidate since the previous call for it (reads files; never blocks)."""
        files = self._paths(rollout.release.service).instance(rollout.instance_id)
        cursor = self._cursors.setdefault(rollout.instance_id, EventCursor())
        return new_events(files, cursor, self.clock)

    def promote(self, rollout: Rollout) -> None:
        """Route the public port to the candidate, then retire the previous instance. Idempotent."""
        release = rollout.release
        paths = self._paths(release.service)
        files = paths.instance(rollout.instance_id)
        if not files.supervisor_alive():
            raise TargetError(f"instance {files.id} of {release.service} is not running; cannot promote it")
        previous = [i for i in {paths.serving_id(), rollout.previous_instance_id} if i and i != files.id]
        control = self._proxy(paths)
        proxy = control.ensure(release.port)
        spec = files.read_spec()
        serving = {
            "instance_id": files.id,
            "host": spec.get("host", self.host),
            "port": spec.get("port", rollout.endpoint.port),
            "version": release.version,
            "digest": release.digest,
            "since": self.clock.now().isoformat(),
        }
        current = read_json(paths.serving) or {}
        if current.get("instance_id") != files.id:
            atomic_write_json(paths.serving, serving)
        drain = max(
            [float(paths.instance(i).read_spec().get("stop_timeout", 10.0)) for i in previous] or [1.0]
        )
        control.switch(proxy, files.id, drain)
        for instance_id in previous:
            stop_instance(paths.instance(instance_id), self.clock)
        self._collect_garbage(paths)

    def abort(self, rollout: Rollout) -> None:
        """Stop the candidate; the serving instance is not touched."""
        self.discard(rollout.release.service, rollout.instance_id)

    def discard(self, service: str, instance_id: str) -> None:
        """Stop an instance that is not serving (e.g. a candidate left behind); refuse the serving one."""
        paths = self._paths(service)
        files = paths.instance(safe_name(instance_id, "instance"))
        if paths.serving_id() == instance_id:
            raise TargetError(f"{instance_id} is serving {service}; it cannot be discarded")
        if not files.dir.is_dir():
            raise TargetError(f"no instance {instance_id} of {service}")
        stop_instance(files, self.clock)
        self._collect_garbage(paths)

    def observe(self, service: str) -> Observed:
        """The serving instance, every instance on file, and the public endpoint if the proxy runs."""
        paths = self._paths(service)
        serving_id = paths.serving_id()
        instances = tuple(to_instance(f) for f in paths.all_instances())
        serving = next((i for i in instances if i.id == serving_id), None)
        proxy = paths.proxy_running()
        public = Endpoint(str(proxy["host"]), int(proxy["port"])) if proxy else None
        return Observed(service, serving, instances, public)

    def stop(self, service: str) -> None:
        """Stop the proxy and every instance of `service`; nothing serves it afterwards."""
        paths = self._paths(service)
        self._proxy(paths).stop()
        instances = paths.all_instances()
        for files in instances:  # ask all first, so that they stop in parallel
            if files.supervisor_alive():
                signal_pid(files.supervisor_pid(), signal.SIGTERM)
        for files in instances:
            # A supervisor that has just written "stopped" may still be exiting: wait for it too.
            alive = files.supervisor_alive() or files.child_alive(files.read_status())
            if alive or live_state(files)[0] != "stopped":
                stop_instance(files, self.clock)
        paths.serving.unlink(missing_ok=True)

    def logs(self, service: str, *, instance_id: str | None = None, lines: int = 50) -> list[str]:
        """The last `lines` lines of the log of `instance_id`, else the serving, else the newest instance."""
        paths = self._paths(service)
        if instance_id is not None:
            files = paths.instance(safe_name(instance_id, "instance"))
            if not files.dir.is_dir() and not files.log.is_file():
                raise TargetError(f"no instance {instance_id} of {service}")
        else:
            chosen = paths.serving_id() or next((f.id for f in reversed(paths.all_instances())), None)
            if chosen is None:
                return []
            files = paths.instance(chosen)
        return [redact(line) for line in tail_lines(files.log, lines)]

    def _collect_garbage(self, paths: ServicePaths) -> None:
        """Delete all but the newest KEEP_STOPPED stopped instances (directory and log); never a live one."""
        serving = paths.serving_id()
        dead = [
            f
            for f in paths.all_instances()
            if f.id != serving and not f.supervisor_alive() and not f.child_alive(f.read_status())
        ]
        for files in dead[:-KEEP_STOPPED] if len(dead) > KEEP_STOPPED else []:
            shutil.rmtree(files.dir, ignore_errors=True)
            files.log.unlink(missing_ok=True)
            self._cursors.pop(files.id, None)
