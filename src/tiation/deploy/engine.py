"""The deploy pillar's entry point: read facts, plan (pure), execute; rollbacks; approvals; status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tiation.clock import Clock
from tiation.config.graph import deploy_order
from tiation.config.loader import LoadedPlatform
from tiation.config.models import Probe
from tiation.deploy.executor import Executor, Outcome, Report, quiet_report, target_problems
from tiation.deploy.health import ProbeResult, run_probe
from tiation.deploy.plan import ApprovalFact, Plan, PlanOptions, ServiceFacts, plan_deploy
from tiation.deploy.release import build_release, resolve_version
from tiation.deploy.verify import Prober
from tiation.errors import ConfigError
from tiation.secrets import SecretRef
from tiation.state import ApprovalRow, StateStore
from tiation.targets.base import Endpoint, Observed, Release, Target

if TYPE_CHECKING:
    import httpx

TargetFactory = Callable[[str], Target]


def make_prober(target: Target, clock: Clock, http: httpx.Client | None = None) -> Prober:
    """The probes of a deploy on `target`: the target answers those it can (its `probing` ability: a cluster's
    rollout status, the fake's script); the engine runs the rest itself (over `http`, if given)."""
    real = engine_prober(clock, http)
    probing = target.capabilities().probing
    if probing is None:
        return real
    answer = probing.answer

    def prober(probe: Probe, endpoint: Endpoint, version: str) -> ProbeResult:
        if not probing.answers(probe.kind):
            return real(probe, endpoint, version)
        at, start = clock.now(), clock.monotonic()
        ok, detail = answer(endpoint, version)
        return ProbeResult(probe.label, ok, detail, clock.monotonic() - start, at)

    return prober


def engine_prober(clock: Clock, http: httpx.Client | None = None) -> Prober:
    """Probes run from this process, sharing one HTTP client: `http`, else one made on first use (it lives as
    long as the process: a CLI command)."""
    clients: list[httpx.Client] = [http] if http is not None else []

    def real_probe(probe: Probe, endpoint: Endpoint, version: str) -> ProbeResult:
        if not clients:
            import httpx

            clients.append(httpx.Client(trust_env=False, follow_redirects=False))
        return run_probe(probe, endpoint, version=version, clock=clock, http=clients[0])

    return real_probe


@dataclass
class Engine:
    """Everything a deploy, rollback or approval needs, bound to one platform file and state store."""

    loaded: LoadedPlatform
    store: StateStore
    clock: Clock
    actor: str
    targets: TargetFactory
    report: Report = quiet_report
    prober_factory: Callable[[Target, Clock], Prober] = make_prober

    def executor(self, environment: str) -> Executor:
        target = self.targets(environment)
        return Executor(
            self.loaded.platform,
            self.store,
            target,
            self.clock,
            self.prober_factory(target, self.clock),
            self.actor,
            self.report,
            lease_ttl=self.loaded.platform.environments[environment].lease_ttl.total_seconds(),
        )

    # -- plan -------------------------------------------------------------------------------------------------
    def plan(self, environment: str, which: str, version: str | None, *, force: bool = False) -> Plan:
        """Decide what a deploy would do, reading (never changing) the target and the state store."""
        self.loaded.platform.require_environment(environment)
        platform = self.loaded.platform
        if which == "all":
            services = deploy_order(platform, platform.services)
        else:
            platform.require_service(which, allow_all=True)
            services = [which]
        target = self.targets(environment)
        target.check()
        caps = target.capabilities()
        prober = self.prober_factory(target, self.clock)
        releases = [
            build_release(platform, self.loaded.root, environment, s, resolve_version(platform, s, version))
            for s in services
        ]
        facts: dict[str, ServiceFacts] = {}
        for release in releases:
            svc = release.service
            with self.store.read("read a release") as uow:
                row = uow.releases.get(environment, svc, digest=release.digest)
                stored = uow.approvals.for_release(environment, svc, release.digest)
            approvals = [ApprovalFact(a.actor, a.digest, a.expires_at) for a in stored]
            if not approvals:
                approvals = [
                    ApprovalFact(a.actor, a.digest, a.expires_at)
                    for a in self._approvals_for_version(release)
                ]
            facts[svc] = ServiceFacts(
                observed=target.observe(svc),
                quarantined=row.quarantine_reason or "failed verification"
                if row and row.quarantined
                else None,
                approvals=approvals,
                dependencies_unhealthy=self._unhealthy_dependencies(environment, svc, target, prober),
                # A cluster reads secret values from its own Secrets; they need not resolve here.
                unresolved_secrets=[] if caps.secrets_on_target else unresolved_secrets(release),
                target_problems=target_problems(target, release),
            )
        opts = PlanOptions(
            actor=self.actor,
            now=self.clock.now(),
            force=force,
            approval_required=platform.environments[environment].approval == "required",
        )
        return plan_deploy(environment, releases, facts, opts)

    def _approvals_for_version(self, release: Release) -> list[ApprovalRow]:
        """Approvals given for the same version under another release digest (the config changed since)."""
        out: list[ApprovalRow] = []
        with self.store.read("read approvals") as uow:
            for row in uow.releases.of_service(release.environment, release.service):
                if row.version == release.version and row.digest != release.digest:
                    out.extend(uow.approvals.for_release(release.environment, release.service, row.digest))
        return out

    def _unhealthy_dependencies(
        self, environment: str, service: str, target: Target, prober: Prober
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        for dep in self.loaded.platform.services[service].depends_on:
            why = dependency_problem(
                target.observe(dep), self.loaded.platform.service_in(environment, dep).health.probes, prober
            )
            if why:
                out[dep] = why
        return out

    # -- do ---------------------------------------------------------------------------------------------------
    def deploy(self, plan: Plan) -> list[Outcome]:
        """Carry out a plan made by `plan`."""
        return self.executor(plan.environment).execute(plan)

    def rollback(
        self, environment: str, service: str, *, to_version: str | None, force: bool = False
    ) -> Outcome:
        """Roll `service` back (see Executor.rollback)."""
        self.loaded.platform.require_environment(environment)
        self.loaded.platform.require_service(service)
        return self.executor(environment).rollback(environment, service, to_version=to_version, force=force)

    def approve(self, environment: str, service: str, version: str) -> ApprovalRow:
        """Record an approval by this actor, bound to the release digest the current config produces."""
        self.loaded.platform.require_environment(environment)
        self.loaded.platform.require_service(service)
        platform = self.loaded.platform
        release = build_release(platform, self.loaded.root, environment, service, version)
        expires: datetime = self.clock.now() + platform.environments[environment].approval_ttl
        with self.store.write("record an approval") as uow:
            uow.releases.save(
                environment=environment,
                service=service,
                version=version,
                digest=release.digest,
                spec=release.to_dict(),
            )
            row = uow.approvals.add(
                environment=environment,
                service=service,
                version=version,
                digest=release.digest,
                actor=self.actor,
                expires_at=expires,
            )
            uow.audit.record(
                actor=self.actor,
                action="approval.add",
                environment=environment,
                service=service,
                details={"version": version, "digest": release.digest, "expires_at": expires.isoformat()},
            )
        return row


def unresolved_secrets(release: Release) -> list[str]:
    """Secret references of `release` that cannot be resolved here (checked before anything starts, so a
    missing secret in the deployer's environment is never blamed on — and never quarantines — the release)."""
    problems = []
    for key, value in sorted(release.env.items()):
        if isinstance(value, SecretRef):
            try:
                value.reveal()
            except ConfigError as exc:
                problems.append(f"env {key}: {exc.message}")
    return problems


def dependency_problem(observed: Observed, probes: list[Probe], prober: Prober) -> str | None:
    """Why a dependency is not healthy now, or None when it is (serving, running, and its probes pass)."""
    serving = observed.serving
    if serving is None:
        return "not running"
    if serving.state != "running":
        return f"{serving.version} is {serving.state}"
    endpoint = observed.public or serving.endpoint
    if endpoint is None:
        return "no endpoint"
    for probe in probes:
        result = prober(probe, endpoint, serving.version)
        if not result.ok:
            return f"{probe.label}: {result.detail}"
    return None
