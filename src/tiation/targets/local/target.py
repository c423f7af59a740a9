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

import signal
from pathlib import Path

from tiation.clock import Clock
from tiation.errors import TargetError
from tiation.redact import redact
from tiation.targets.base import Endpoint, Instance, Release, Rollout, TargetEvent
from tiation.targets.proxied.common import (
    atomic_write_json,
    free_port,
    signal_pid,
    tail_lines,
)
from tiation.targets.proxied.control import launch_detached
from tiation.targets.proxied.instances import (
    SUPERVISOR_MODULE,
    EventCursor,
    InstanceFiles,
    live_state,
    new_events,
    stop_instance,
    to_instance,
)
from tiation.targets.proxied.spec import build_spec, config_paths, write_config
from tiation.targets.proxied.target import ProxiedTarget


class LocalTarget(ProxiedTarget):
    """Runs services as supervised processes on this host, behind a per-service TCP proxy."""

    kind = "local"

    def __init__(self, root: Path, environment: str, *, host: str = "127.0.0.1", clock: Clock) -> None:
        super().__init__(root, environment, host=host, clock=clock)

    def check(self) -> None:
        """Raise TargetError unless the root is writable and the host can be listened on."""
        self._check_root()
        try:
            free_port(self.host)
        except OSError as exc:
            raise TargetError(f"cannot listen on {self.host}: {exc.strerror or exc}") from None

    def apply(self, release: Release) -> Rollout:
        """Start a supervised candidate on a free port; return at once (the engine probes the endpoint)."""
        self._check_environment(release.environment)
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
        spec = files.read_spec()
        where = Endpoint(str(spec.get("host", self.host)), int(spec.get("port", rollout.endpoint.port)))
        self._switch_to(rollout, files, where, lambda f: float(f.read_spec().get("stop_timeout", 10.0)))

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
        files = self._log_files(service, instance_id)
        if files is None:
            return []
        return [redact(line) for line in tail_lines(files.log, lines)]

    # -- hooks of ProxiedTarget ---------------------------------------------------------------------------------
    def _retire(self, files: InstanceFiles) -> None:
        stop_instance(files, self.clock)

    def _describe(self, files: InstanceFiles) -> Instance:
        return to_instance(files)

    def _is_dead(self, files: InstanceFiles) -> bool:
        return not files.supervisor_alive() and not files.child_alive(files.read_status())
