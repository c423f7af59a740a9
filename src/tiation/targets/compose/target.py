"""The `compose` target: each instance is one container on a real Docker engine, switched blue/green.

In the manner of Kamal: every candidate is its own small compose project (`<project>-<service>-<id>`, one
container, host network) listening on a free port given as `$PORT`; the public port is served by the same
detached TCP proxy as the local target (`local_proxy`), so promoting a candidate switches new connections to it
without downtime, and aborting removes only the candidate. Containers are created and removed with Debian's
`docker-compose` (v1); what happens to them is read from the engine's API (`compose_engine`).

Layout under the root (`.tiation`):
    compose/<environment>/<service>/serving.json, proxy.json, proxy.pid
    compose/<environment>/<service>/instances/<id>/docker-compose.yml, instance.json, config/
    logs/compose/<environment>/<service>/<id>.log (a removed container's last output), proxy.log
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from tiation.clock import Clock
from tiation.errors import TargetError
from tiation.redact import redact
from tiation.secrets import SecretRef
from tiation.targets.base import Endpoint, Instance, Release, Rollout, TargetEvent
from tiation.targets.compose.engine import (
    ComposeCli,
    DockerEngine,
    compose_binary,
    engine_address,
    last_line,
)
from tiation.targets.compose.events import ContainerCursor, container_events, container_state, docker_time
from tiation.targets.compose.file import ComposeInstance, compose_file, compose_project
from tiation.targets.proxied.common import atomic_write_json, free_port, parse_time, read_json, tail_lines
from tiation.targets.proxied.instances import InstanceFiles
from tiation.targets.proxied.spec import config_paths, write_config
from tiation.targets.proxied.target import ProxiedTarget

SAVED_LOG_LINES = 1000
EVENTS_SLACK = 2.0  # seconds of overlap between two event queries (duplicates are dropped)


class ComposeTarget(ProxiedTarget):
    """Runs services as containers on a Docker engine (via docker-compose), behind a per-service TCP proxy."""

    kind = "compose"
    area = "compose"
    id_format = "%Y%m%dt%H%M%S"  # part of a compose project name: lowercase only

    def __init__(
        self,
        root: Path,
        environment: str,
        *,
        project: str,
        docker_host: str | None = None,
        host: str = "127.0.0.1",
        clock: Clock,
    ) -> None:
        super().__init__(root, environment, host=host, clock=clock)
        self.project = compose_project(project)
        self.address = engine_address(docker_host)
        self.engine = DockerEngine(self.address)
        self.compose = ComposeCli(self.address)

    # -- files ------------------------------------------------------------------------------------------------
    @staticmethod
    def _compose_path(files: InstanceFiles) -> Path:
        return files.dir / "docker-compose.yml"

    @staticmethod
    def _record_path(files: InstanceFiles) -> Path:
        return files.dir / "instance.json"

    def _record(self, files: InstanceFiles) -> dict[str, Any]:
        return read_json(self._record_path(files)) or {}

    # -- the protocol -----------------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise TargetError unless the root is writable, docker-compose is installed and the engine answers."""
        self._check_root()
        compose_binary()
        self.engine.ping()

    def apply(self, release: Release) -> Rollout:
        """Create and start the candidate's container on a free port; return at once (the engine probes it)."""
        self._check_environment(release.environment)
        if not release.image:
            raise TargetError(
                f"{release.service} {release.version} has no image; the compose target needs one"
            )
        paths = self._paths(release.service)
        self._proxy(paths).check_public_port(release.port)
        config = config_paths(release.config)
        self.engine.ping()
        if not self.engine.image_exists(release.image):
            raise TargetError(
                f"image {release.image} does not exist on the Docker engine at {self.address} "
                "(no registry is used: build or load it there first)"
            )
        previous = paths.serving_id()
        files = self._new_instance(paths)
        port = free_port(self.host)
        project = compose_project(self.project, release.service, files.id)
        inst = ComposeInstance(files.id, project, self.project, self.host, port, files.config_dir)
        document, refs = compose_file(release, inst)
        record = {
            "instance_id": files.id,
            "project": project,
            "container": project,
            "image": release.image,
            "version": release.version,
            "digest": release.digest,
            "created_at": self.clock.now().isoformat(),
            "host": self.host,
            "port": port,
            "public_port": release.port,
            "stop_timeout": release.stop_timeout,
            "secret_vars": sorted(refs),
            "state": "created",
        }
        try:
            write_config(files, config)
            self._compose_path(files).write_text(_yaml(document), encoding="utf-8")
            atomic_write_json(self._record_path(files), record)
        except OSError as exc:
            raise TargetError(f"cannot prepare instance {files.id}: {exc.strerror or exc}") from None
        try:
            values = _reveal(refs)
        except BaseException:
            self._mark_removed(files, record)
            raise
        done = self.compose.run(
            project, self._compose_path(files), ["up", "-d", "--no-build"], secrets=values
        )
        if done.returncode != 0 and self.engine.inspect(project) is None:
            self._mark_removed(files, record)
            raise TargetError(
                f"docker-compose up for {project} failed: {last_line(done.stderr or done.stdout)}"
            )
        # A container that was created but could not start is reported by `events` (State.Error).
        return Rollout(release, files.id, Endpoint(self.host, port), self.clock.now(), previous)

    def events(self, rollout: Rollout) -> list[TargetEvent]:
        """Events of the candidate's container since the previous call (one `inspect`; never blocks)."""
        files = self._paths(rollout.release.service).instance(rollout.instance_id)
        record = self._record(files)
        container = str(record.get("container", ""))
        cursor = self._cursors.setdefault(rollout.instance_id, ContainerCursor())
        now = self.clock.now()
        if not container:
            return container_events(None, [], cursor, now)
        data = self.engine.inspect(container)
        created = parse_time(record.get("created_at")) or rollout.started_at
        since = cursor.since if cursor.since is not None else created.timestamp() - EVENTS_SLACK
        recorded = self.engine.events(container, since, now.timestamp())
        cursor.since = (
            now.timestamp() - EVENTS_SLACK
        )  # overlap: an event stamped just before `now` is not lost
        return container_events(data, recorded, cursor, now)

    def promote(self, rollout: Rollout) -> None:
        """Route the public port to the candidate, then remove the previous instance's container. Idempotent."""
        release = rollout.release
        paths = self._paths(release.service)
        files = paths.instance(rollout.instance_id)
        record = self._record(files)
        data = self.engine.inspect(str(record.get("container", ""))) if record else None
        if record.get("state") != "created" or container_state(data) != "running":
            raise TargetError(f"instance {files.id} of {release.service} is not running; cannot promote it")
        where = Endpoint(str(record.get("host", self.host)), int(record.get("port", rollout.endpoint.port)))
        self._switch_to(rollout, files, where, lambda f: float(self._record(f).get("stop_timeout", 10.0)))

    def stop(self, service: str) -> None:
        """Stop the proxy and remove every container of `service`; nothing serves it afterwards."""
        paths = self._paths(service)
        self._proxy(paths).stop()
        for files in paths.all_instances():
            self._retire(files)
        paths.serving.unlink(missing_ok=True)
        labels = {"tiation.project": self.project, "tiation.environment": self.environment}
        for stray in self.engine.containers({**labels, "tiation.service": service}):
            self.engine.request("DELETE", f"/containers/{stray['Id']}", params={"force": "1"})

    def logs(self, service: str, *, instance_id: str | None = None, lines: int = 50) -> list[str]:
        """The last `lines` output lines of `instance_id`, else the serving, else the newest instance."""
        files = self._log_files(service, instance_id)
        if files is None:
            return []
        record = self._record(files)
        found = None
        if record.get("state") == "created":
            found = self.engine.logs(str(record.get("container", "")), lines)
        if found is None:
            found = tail_lines(files.log, lines)
        return [redact(line) for line in found]

    # -- helpers ----------------------------------------------------------------------------------------------
    def _describe(self, files: InstanceFiles) -> Instance:
        record = self._record(files)
        data = None
        if record.get("state") == "created":
            data = self.engine.inspect(str(record.get("container", "")))
            state = container_state(data)
        else:
            state = "stopped"
        container = (data or {}).get("State") or {}
        pid = container.get("Pid") if state == "running" else None
        return Instance(
            id=files.id,
            version=str(record.get("version", "")),
            digest=str(record.get("digest", "")),
            state=state,
            endpoint=Endpoint(str(record["host"]), int(record["port"])) if "port" in record else None,
            pid=pid if isinstance(pid, int) and pid > 0 else None,
            restarts=int((data or {}).get("RestartCount") or 0),
            started_at=docker_time(container.get("StartedAt")) or parse_time(record.get("created_at")),
            log_path=str(files.log),
        )

    def _mark_removed(self, files: InstanceFiles, record: dict[str, Any]) -> None:
        if files.dir.is_dir():
            record = {**record, "state": "removed", "removed_at": self.clock.now().isoformat()}
            atomic_write_json(self._record_path(files), record)

    def _retire(self, files: InstanceFiles) -> None:
        """Save the container's last output to the instance log, then `docker-compose down` it."""
        record = self._record(files)
        if record.get("state") != "created":
            return
        container, project = str(record["container"]), str(record["project"])
        output = self.engine.logs(container, SAVED_LOG_LINES)
        if output is not None:
            files.log.parent.mkdir(parents=True, exist_ok=True)
            files.log.write_text("".join(redact(line) + "\n" for line in output), encoding="utf-8")
        if self.engine.inspect(container) is not None:
            timeout = str(max(math.ceil(float(record.get("stop_timeout", 10.0))), 1))
            blanks = dict.fromkeys(record.get("secret_vars", []), "")  # `down` needs no secret, only names
            self.compose.check(
                project, self._compose_path(files), ["down", "--timeout", timeout], secrets=blanks
            )
        self._mark_removed(files, record)
        self._cursors.pop(files.id, None)

    def _is_dead(self, files: InstanceFiles) -> bool:
        return self._record(files).get("state") == "removed"


def _reveal(refs: dict[str, SecretRef]) -> dict[str, str]:
    """The secret values for docker-compose's environment (resolved now, registered for redaction)."""
    return {var: ref.reveal() for var, ref in refs.items()}


def _yaml(document: dict[str, Any]) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096  # no folded lines
    out = io.StringIO()
    out.write(
        "# Written by tiation for one instance. Secret values are ${TIATION_SECRET_<n>}: docker-compose\n"
    )
    out.write(
        "# takes them from its environment when tiation starts the container; they are never on disk.\n"
    )
    yaml.dump(document, out)
    return out.getvalue()
