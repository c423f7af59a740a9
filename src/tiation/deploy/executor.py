"""Carry out deploy plans and rollbacks: lock, apply, verify, keep — or roll back to last-known-good.

Every step writes an audit event. A candidate is only promoted after its verdict is healthy; a failed candidate is
stopped and quarantined, and the newest release that passed verification (not blindly N-1) serves again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tiation.clock import Clock
from tiation.config.models import Health, Platform
from tiation.deploy.lease import held_lease, lease_owner
from tiation.deploy.plan import Plan
from tiation.deploy.records import DeployRecords
from tiation.deploy.verdict import Failed, Healthy, Pending, Verdict
from tiation.deploy.verify import Observation, Prober, failure_evidence, verify
from tiation.errors import DeployError, QuarantinedError, UsageError
from tiation.records import record_dict
from tiation.state import Lease, ReleaseRow, StateStore
from tiation.targets.base import Release, Target

Report = Callable[[str, Mapping[str, Any]], None]


def quiet_report(_event: str, _data: Mapping[str, Any]) -> None:
    """A progress callback that reports nothing (the default when nobody watches)."""
    return


@dataclass(frozen=True)
class Outcome:
    """What happened to one service."""

    service: str
    status: str  # "succeeded" | "failed" | "noop" | "blocked" | "skipped"
    version: str
    deployment_id: str | None = None
    verdict: str = ""
    rolled_back_to: str | None = None
    rollback_deployment_id: str | None = None
    timings: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return record_dict(self)


@dataclass
class Executor:
    """Runs plans and rollbacks against one environment's target."""

    platform: Platform
    store: StateStore
    target: Target
    clock: Clock
    prober: Prober
    actor: str
    report: Report = quiet_report
    lease_ttl: float = 60.0
    poll_interval: float = 0.1

    def owner(self) -> str:
        return lease_owner(self.actor)

    # -- deploy -----------------------------------------------------------------------------------------------
    def execute(self, plan: Plan) -> list[Outcome]:
        """Carry out `plan` in order; stop at the first failure (the rest are reported as skipped)."""
        outcomes: list[Outcome] = []
        failed = False
        for step in plan.steps:
            release = step.release
            if failed:
                outcomes.append(
                    Outcome(step.service, "skipped", release.version, verdict="an earlier step failed")
                )
                continue
            if step.action == "noop":
                self.report("noop", {"service": step.service, "version": release.version})
                outcomes.append(Outcome(step.service, "noop", release.version, verdict=step.reasons[0]))
                continue
            if step.action == "blocked":
                outcomes.append(
                    Outcome(step.service, "blocked", release.version, verdict="; ".join(step.reasons))
                )
                failed = True
                continue
            outcome = self._with_lease(
                release, f"deploy {release.service} {release.version}", self._deploy_one
            )
            outcomes.append(outcome)
            failed = outcome.status != "succeeded"
        return outcomes

    def _with_lease(
        self, release: Release, reason: str, action: Callable[[Release, Lease], Outcome]
    ) -> Outcome:
        with held_lease(
            self.store,
            release.environment,
            release.service,
            actor=self.actor,
            reason=reason,
            ttl=self.lease_ttl,
        ) as lease:
            self._recover_interrupted(release.environment, release.service)
            return action(release, lease)

    def _recover_interrupted(self, environment: str, service: str) -> None:
        """Clean up after a deploy whose process died: we hold the lease, so nothing else is deploying this
        service — a deployment still `running` is dead, and a running instance that is not serving is its
        orphaned candidate."""
        with self.store.read("list deployments") as uow:
            recent = uow.deployments.recent(environment=environment, service=service, limit=20)
        for dep in recent:
            if dep.status != "running":
                continue
            why = "interrupted: the deploy process stopped before finishing (its lease expired or its holder died)"
            with self.store.write("finish a deployment") as uow:
                uow.deployments.finish(dep.id, status="aborted", verdict=why, evidence={})
                uow.audit.record(
                    actor=self.actor,
                    action=f"{dep.kind}.interrupted",
                    environment=environment,
                    service=service,
                    deployment_id=dep.id,
                    details={"version": dep.version},
                )
        observed = self.target.observe(service)
        serving_id = observed.serving.id if observed.serving else None
        for instance in observed.instances:
            if instance.id != serving_id and instance.state in ("running", "starting"):
                self.target.discard(service, instance.id)
                details = {"instance": instance.id, "version": instance.version}
                self._records.note(environment, service, "instance.discard", details)

    def _deploy_one(self, release: Release, lease: Lease) -> Outcome:
        dep_id, verdict, seen = self._run(release, lease, kind="deploy")
        if isinstance(verdict, Healthy):
            return Outcome(
                release.service, "succeeded", release.version, dep_id, verdict.reason, timings=_times(seen)
            )
        assert isinstance(verdict, Failed)
        timings = _times(seen)
        back = self._auto_rollback(release, lease, dep_id)
        if back is not None:
            timings = {**timings, **back.timings}
        return Outcome(
            release.service,
            "failed",
            release.version,
            dep_id,
            verdict.reason,
            rolled_back_to=back.version if back else None,
            rollback_deployment_id=back.deployment_id if back else None,
            timings=timings,
        )

    def _run(
        self, release: Release, lease: Lease, *, kind: str, parent: str | None = None
    ) -> tuple[str, Healthy | Failed, Observation]:
        """Apply `release` as a candidate, verify it, then promote it or abort it. Returns the verdict."""
        svc = release.service
        dep_id = self._records.start(release, kind=kind, parent=parent)
        self.report(
            "apply", {"service": svc, "version": release.version, "kind": kind, "deployment_id": dep_id}
        )
        health = self._health(release)
        started = self.clock.monotonic()
        rollout = None
        try:
            rollout = self.target.apply(release)
            applied = self.clock.monotonic()
            next_beat = [started + self.lease_ttl / 3]

            def tick(verdict: Verdict, seen: Observation) -> None:
                self._beat(lease, next_beat)
                waiting = verdict.waiting_for if isinstance(verdict, Pending) else verdict.status
                self.report("verify", {"service": svc, "elapsed": seen.elapsed, "waiting_for": waiting})

            verdict, seen = verify(
                self.target,
                rollout,
                health,
                clock=self.clock,
                prober=self.prober,
                poll_interval=self.poll_interval,
                on_tick=tick,
            )
        except BaseException as exc:
            if rollout is not None:
                self.target.abort(rollout)
            why = str(exc) or type(exc).__name__
            error = {"error": why}
            self._records.finish(release, dep_id, f"{kind}.aborted", "aborted", why, error, error)
            raise
        seen.apply_s = applied - started
        if isinstance(verdict, Healthy):
            self.target.promote(rollout)
            details = {"verdict": verdict.reason}
            self._records.finish(
                release, dep_id, f"{kind}.succeeded", "succeeded", verdict.reason, seen.evidence(), details
            )
            self.report("kept", {"service": svc, "version": release.version, "verdict": verdict.reason})
            return dep_id, verdict, seen
        assert isinstance(verdict, Failed)
        log_tail = self.target.logs(svc, instance_id=rollout.instance_id, lines=20)
        self.target.abort(rollout)
        evidence = failure_evidence(verdict, seen, log_tail)
        details = {"verdict": verdict.reason, "code": verdict.code}
        self._records.finish(
            release, dep_id, f"{kind}.failed", "failed", verdict.reason, evidence, details, quarantine=True
        )
        self.report(
            "failed",
            {"service": svc, "version": release.version, "verdict": verdict.reason, "elapsed": seen.elapsed},
        )
        return dep_id, verdict, seen

    @property
    def _records(self) -> DeployRecords:
        return DeployRecords(self.store, self.actor)

    def _beat(self, lease: Lease, next_beat: list[float]) -> None:
        """Heartbeat the lease once `next_beat` has come, and set the next one a third of its ttl later."""
        if self.clock.monotonic() >= next_beat[0]:
            with self.store.write("heartbeat a lease") as uow:
                uow.leases.heartbeat(lease)
            next_beat[0] = self.clock.monotonic() + self.lease_ttl / 3

    def _health(self, release: Release) -> Health:
        if release.service in self.platform.services:
            return self.platform.service_in(release.environment, release.service).health
        return Health()

    def _auto_rollback(self, failed: Release, lease: Lease, failed_id: str) -> Outcome | None:
        env, svc = failed.environment, failed.service
        t0 = self.clock.monotonic()
        with self.store.read("find the last known good release") as uow:
            lkg = uow.releases.last_known_good(env, svc, exclude_digests={failed.digest})
        if lkg is None:
            self.report("no_lkg", {"service": svc})
            details = {"reason": "no known-good release on record"}
            self._records.note(env, svc, "auto-rollback.none", details, deployment_id=failed_id)
            return None
        serving = self.target.observe(svc).serving
        if serving is not None and serving.digest == lkg.digest and serving.state == "running":
            why = f"last-known-good {lkg.version} kept serving; the candidate never received traffic"
            dep_id = self._records.kept(lkg, failed_id, why, serving.id)
            self.report("rolled_back", {"service": svc, "version": lkg.version, "verdict": why})
            return Outcome(
                svc,
                "succeeded",
                lkg.version,
                dep_id,
                why,
                timings={"restore_s": round(self.clock.monotonic() - t0, 3)},
            )
        release = Release.from_dict(lkg.spec)
        self.report("restore", {"service": svc, "version": lkg.version})
        dep_id, verdict, _ = self._run(release, lease, kind="auto-rollback", parent=failed_id)
        status = "succeeded" if isinstance(verdict, Healthy) else "failed"
        if status == "succeeded":
            self.report("rolled_back", {"service": svc, "version": lkg.version, "verdict": verdict.reason})
        return Outcome(
            svc,
            status,
            lkg.version,
            dep_id,
            verdict.reason,
            timings={"restore_s": round(self.clock.monotonic() - t0, 3)},
        )

    # -- rollback ---------------------------------------------------------------------------------------------
    def rollback(self, environment: str, service: str, *, to_version: str | None, force: bool) -> Outcome:
        """Go back to `to_version`, or to the newest known-good release other than the one serving now."""
        serving = self.target.observe(service).serving
        row: ReleaseRow | None
        if to_version is not None:
            with self.store.read("read a release") as uow:
                row = uow.releases.get(environment, service, version=to_version)
            if row is None:
                raise UsageError(f"no release of {service} {to_version} on record in {environment}")
            if row.quarantined and not force:
                raise QuarantinedError(
                    f"release {service} {to_version} is quarantined ({row.quarantine_reason}); use --force"
                )
        else:
            exclude = {serving.digest} if serving is not None else set()
            with self.store.read("find the last known good release") as uow:
                row = uow.releases.last_known_good(environment, service, exclude_digests=exclude)
            if row is None:
                raise DeployError(
                    f"no earlier known-good release of {service} in {environment} to roll back to"
                )
        release = Release.from_dict(row.spec)
        problems = target_problems(self.target, release)
        if problems:
            raise DeployError(f"cannot roll {service} back to {release.version}: {'; '.join(problems)}")

        def run(rel: Release, lease: Lease) -> Outcome:
            dep_id, verdict, seen = self._run(rel, lease, kind="rollback")
            status = "succeeded" if isinstance(verdict, Healthy) else "failed"
            return Outcome(service, status, rel.version, dep_id, verdict.reason, timings=_times(seen))

        return self._with_lease(release, f"rollback {service} to {release.version}", run)


def target_problems(target: Target, release: Release) -> list[str]:
    """What the target's own prechecks say about `release`, one line each (targets without prechecks: none).
    Deploys check during the plan (a problem blocks the step); a rollback, which has no plan, checks here."""
    check = target.capabilities().precheck
    return list(check(release)) if check is not None else []


def _times(seen: Observation) -> dict[str, float]:
    return {"apply_s": round(seen.apply_s, 3), "verdict_s": round(seen.apply_s + seen.elapsed, 3)}
