"""The `compose` target: each instance is one container on a real Docker engine, switched blue/green.

In the manner of Kamal: every candidate is its own small compose project (`<project>-<service>-<id>`, one
container, host network) listening on a free port given as `$PORT`; the public port is served by the same
detached TCP proxy as the local target (`local_proxy`), so promoting a candidate switches new connections to it
without downtime, and aborting removes only the candidate. Everything is done through the Docker Engine API
(`engine.py`): the container is created from a body (`container.py`) made of the same definition as the
instance's compose file (`file.py`, a readable record), started, inspected, stopped and removed.

Layout under the root (`.tiation`):
    compose/<environment>/<service>/serving.json, proxy.json, proxy.pid
    compose/<environment>/<service>/instances/<id>/docker-compose.yml, instance.json, config/
    logs/compose/<environment>/<service>/<id>.log (a removed container's last output), proxy.log
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from tiation.clock import Clock
from tiation.errors import TargetError
from tiation.private import private_file
from tiation.redact import redact
from tiation.targets.base import Endpoint, Instance, Release, Rollout, TargetEvent
from tiation.targets.compose.container import create_body
from tiation.targets.compose.engine import DockerEngine, engine_address
from tiation.targets.compose.events import ContainerCursor, container_events, container_state, docker_time
from tiation.targets.compose.file import (
    ComposeInstance,
    compose_file,
    compose_project,
    instance_definition,
    labels_of,
    stop_seconds,
)
from tiation.targets.proxied.common import atomic_write_json, free_port, parse_time, read_json, tail_lines
from tiation.targets.proxied.instances import InstanceFiles
from tiation.targets.proxied.spec import config_paths, write_config
from tiation.targets.proxied.target import ProxiedTarget

SAVED_LOG_LINES = 1000
EVENTS_SLACK = 2.0  # seconds of overlap between two event queries (duplicates are dropped)


class ComposeTarget(ProxiedTarget):
    """Runs services as containers on a Docker engine (its HTTP API), behind a per-service TCP proxy."""

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
        """Raise TargetError unless the root is writable and the engine answers."""
        self._check_root()
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
        inst = ComposeInstance(
            files.id,
            compose_project(self.project, release.service, files.id),
            self.project,
            self.host,
            free_port(self.host),
            files.config_dir,
        )
        record = self._prepare(release, inst, files, config)
        self._create(release, inst, files, record)
        return Rollout(release, files.id, Endpoint(self.host, inst.port), self.clock.now(), previous)

    def _prepare(
        self,
        release: Release,
        inst: ComposeInstance,
        files: InstanceFiles,
        config: Mapping[PurePosixPath, str],
    ) -> dict[str, Any]:
        """Write the instance's config files, compose file (the record of its container) and instance.json."""
        document, _ = compose_file(release, inst)
        record = {
            "instance_id": files.id,
            "project": inst.project,
            "container": inst.project,
            "image": release.image,
            "version": release.version,
            "digest": release.digest,
            "created_at": self.clock.now().isoformat(),
            "host": self.host,
            "port": inst.port,
            "public_port": release.port,
            "stop_timeout": release.stop_timeout,
            "state": "created",
        }
        try:
            write_config(files, config)
            self._compose_path(files).write_text(compose_yaml(document), encoding="utf-8")
            atomic_write_json(self._record_path(files), record)
        except OSError as exc:
            raise TargetError(f"cannot prepare instance {files.id}: {exc.strerror or exc}") from None
        return record

    def _create(
        self, release: Release, inst: ComposeInstance, files: InstanceFiles, record: dict[str, Any]
    ) -> None:
        """Create and start the container (secret values only in the create request's Env)."""
        definition = instance_definition(release, inst)
        try:
            values = {name: ref.reveal() for name, ref in definition.secret_refs.items()}
            body = create_body(definition, inst, labels_of(release, inst), values)
            self.engine.create(inst.project, body, hidden=values.values())
        except BaseException:
            self._mark_removed(files, record)
            raise
        # A container that was created but could not start is reported by `events` (State.Error), as before.
        self.engine.start(inst.project)

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
            self.engine.remove(str(stray["Id"]))

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
            try:
                data = self.engine.inspect(str(record.get("container", "")))
                state = container_state(data)
            except TargetError:  # the engine is down: what runs is unknown, not "not running"
                state = "unknown"
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
        """Save the container's last output to the instance log, then stop and remove the container."""
        record = self._record(files)
        if record.get("state") != "created":
            return
        container = str(record["container"])
        output = self.engine.logs(container, SAVED_LOG_LINES)
        if output is not None:
            files.log.parent.mkdir(parents=True, exist_ok=True)
            private_file(files.log).write_text(
                "".join(redact(line) + "\n" for line in output), encoding="utf-8"
            )
        if self.engine.inspect(container) is not None:  # as `docker compose down`: stop in time, then remove
            self.engine.stop(container, stop_seconds(float(record.get("stop_timeout", 10.0))))
            self.engine.remove(container)
        self._mark_removed(files, record)
        self._cursors.pop(files.id, None)

    def _is_dead(self, files: InstanceFiles) -> bool:
        return self._record(files).get("state") == "removed"


def compose_yaml(document: dict[str, Any]) -> str:
    """The instance's compose file as YAML text, with a header saying what it is."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096  # no folded lines
    out = io.StringIO()
    out.write(
        "# Written by tiation: the container it created for this instance through the Docker Engine API.\n"
    )
    out.write(
        "# Secret values are ${TIATION_SECRET_<n>}: they went to the engine in the request; never on disk.\n"
    )
    yaml.dump(document, out)
    return out.getvalue()
