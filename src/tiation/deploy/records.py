"""What a deploy writes to the state store. Each outcome commits together with its audit entry (one unit of
work), so the audit log never misses a recorded result and never shows one that was not recorded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tiation.state import ReleaseRow, StateStore, UnitOfWork
from tiation.targets.base import Release


@dataclass(frozen=True)
class DeployRecords:
    """The deployment rows and audit entries of one actor's deploys."""

    store: StateStore
    actor: str

    def start(self, release: Release, *, kind: str, parent: str | None) -> str:
        """Save the release and record its deployment as running (audited `<kind>.start`); the deployment id."""
        with self.store.write("record a deployment") as uow:
            uow.releases.save(
                environment=release.environment,
                service=release.service,
                version=release.version,
                digest=release.digest,
                spec=release.to_dict(),
            )
            dep_id = self._create(uow, release, kind, parent)
            uow.audit.record(
                actor=self.actor,
                action=f"{kind}.start",
                environment=release.environment,
                service=release.service,
                deployment_id=dep_id,
                details={"version": release.version, "digest": release.digest},
            )
        return dep_id

    def finish(
        self,
        release: Release,
        dep_id: str,
        action: str,
        status: str,
        verdict: str,
        evidence: dict[str, Any],
        details: dict[str, Any],
        *,
        quarantine: bool = False,
    ) -> None:
        """Record a deployment's outcome with its audit entry `action` (and quarantine the release) at once."""
        with self.store.write("finish a deployment") as uow:
            if quarantine:
                uow.releases.quarantine(release.environment, release.service, release.digest, reason=verdict)
            uow.deployments.finish(dep_id, status=status, verdict=verdict, evidence=evidence)
            uow.audit.record(
                actor=self.actor,
                action=action,
                environment=release.environment,
                service=release.service,
                deployment_id=dep_id,
                details=details,
            )

    def kept(self, lkg: ReleaseRow, failed_id: str, why: str, serving_id: str) -> str:
        """Record an auto-rollback that had nothing to do (the last known good release kept serving)."""
        with self.store.write("record a deployment") as uow:
            dep_id = self._create(uow, lkg, "auto-rollback", failed_id)
            uow.deployments.finish(
                dep_id, status="succeeded", verdict=why, evidence={"serving_instance": serving_id}
            )
            uow.audit.record(
                actor=self.actor,
                action="auto-rollback.succeeded",
                environment=lkg.environment,
                service=lkg.service,
                deployment_id=dep_id,
                details={"verdict": why, "version": lkg.version},
            )
        return dep_id

    def note(self, environment: str, service: str, action: str, details: dict[str, Any], **ids: str) -> None:
        """Append one audit entry of this actor, for a step that has no row of its own (`deployment_id=`)."""
        with self.store.write("write the audit log") as uow:
            uow.audit.record(
                actor=self.actor,
                action=action,
                environment=environment,
                service=service,
                details=details,
                **ids,
            )

    def _create(self, uow: UnitOfWork, release: Release | ReleaseRow, kind: str, parent: str | None) -> str:
        return uow.deployments.create(
            environment=release.environment,
            service=release.service,
            version=release.version,
            digest=release.digest,
            actor=self.actor,
            kind=kind,
            parent_id=parent,
        )
