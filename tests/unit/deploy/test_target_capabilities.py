"""The engine asks a target for its abilities (`Target.capabilities()`), and finds targets by kind through one
mapping, `register_target`, or the `tiation.targets` entry points (how `target: fake` reaches the shipped fake)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tiation.clock import Clock, FakeClock
from tiation.config.loader import LoadedPlatform, load_platform
from tiation.deploy.engine import Engine
from tiation.deploy.executor import target_problems
from tiation.deploy.targets import make_target, register_target, unregister_target
from tiation.errors import DeployError, TargetError
from tiation.state import StateStore
from tiation.targets.base import Release
from tiation.targets.capabilities import Capabilities, TargetProbing
from tiation.targets.fake import FakeTarget

PLATFORM = """\
version: 1
project: {name: shop}
environments:
  dev: {target: fake}
services:
  db:
    port: 5000
    default_version: "1.0"
    env: {PGPASSWORD: env:SHOP_DB_PASSWORD}
    health: {deadline: 5s, probes: [{tcp: {}}]}
"""


@dataclass
class ClusterLike(FakeTarget):
    """The fake with the abilities of a cluster: its own prechecks, secrets read on its side."""

    problems: Sequence[str] = ()

    def capabilities(self) -> Capabilities:
        return Capabilities(
            precheck=lambda release: [f"{p} ({release.version})" for p in self.problems],
            probing=TargetProbing(lambda endpoint, _version: self.probe_ok(endpoint)),
            secrets_on_target=True,
        )


@pytest.fixture
def loaded(tmp_path: Path) -> LoadedPlatform:
    (tmp_path / "tiation.yaml").write_text(PLATFORM)
    return load_platform(tmp_path / "tiation.yaml")


@pytest.fixture
def store(tmp_path: Path, fake_clock: FakeClock) -> Iterator[StateStore]:
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}", clock=fake_clock)
    yield store
    store.close()


def engine_on(target: FakeTarget, loaded: LoadedPlatform, store: StateStore, clock: FakeClock) -> Engine:
    return Engine(loaded=loaded, store=store, clock=clock, actor="alice", targets=lambda _env: target)


def test_secrets_read_on_the_target_need_not_resolve_here(
    loaded: LoadedPlatform, store: StateStore, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOP_DB_PASSWORD", raising=False)
    here = engine_on(FakeTarget(clock=fake_clock), loaded, store, fake_clock).plan("dev", "db", None)
    assert here.steps[0].action == "blocked"
    cluster = engine_on(ClusterLike(clock=fake_clock), loaded, store, fake_clock).plan("dev", "db", None)
    assert (cluster.steps[0].action, cluster.steps[0].reasons) == ("deploy", ("nothing -> 1.0",))


def test_the_target_prechecks_block_the_plan_and_a_rollback(
    loaded: LoadedPlatform, store: StateStore, fake_clock: FakeClock
) -> None:
    target = ClusterLike(clock=fake_clock, problems=["secret db-secrets not found"])
    plan = engine_on(target, loaded, store, fake_clock).plan("dev", "db", None)
    assert plan.steps[0].reasons == ("secret db-secrets not found (1.0)",)
    release = Release("dev", "db", "0.9", (), 5000)
    assert target_problems(target, release) == ["secret db-secrets not found (0.9)"]
    assert target_problems(FakeTarget(clock=fake_clock), release) == []
    with store.write("save a release") as uow:
        uow.releases.save(
            environment="dev", service="db", version="0.9", digest=release.digest, spec=release.to_dict()
        )
    with pytest.raises(DeployError, match=r"cannot roll db back to 0.9: secret db-secrets not found \(0.9\)"):
        engine_on(target, loaded, store, fake_clock).rollback("dev", "db", to_version="0.9")


def test_target_fake_is_found_through_its_entry_point(loaded: LoadedPlatform, fake_clock: FakeClock) -> None:
    target = make_target(loaded, "dev", fake_clock)
    assert isinstance(target, FakeTarget) and target.clock is fake_clock


def test_a_registered_maker_wins_over_the_entry_point(loaded: LoadedPlatform, fake_clock: FakeClock) -> None:
    mine = FakeTarget(clock=fake_clock, kind="mine")

    def maker(_loaded: LoadedPlatform, environment: str, _clock: Clock) -> FakeTarget:
        assert environment == "dev"
        return mine

    register_target("fake", maker)
    try:
        assert make_target(loaded, "dev", fake_clock) is mine
    finally:
        unregister_target("fake")
    assert make_target(loaded, "dev", fake_clock) is not mine


def test_a_kind_nobody_provides_is_a_one_line_error(loaded: LoadedPlatform, fake_clock: FakeClock) -> None:
    # The platform file only allows known kinds; a kind whose maker is gone (uninstalled plug-in) is reported.
    env = loaded.platform.environments["dev"].model_copy(update={"target": "nowhere"})
    platform = loaded.platform.model_copy(update={"environments": {"dev": env}})
    broken = LoadedPlatform(path=loaded.path, platform=platform)
    with pytest.raises(TargetError, match=r"^no target of kind 'nowhere' is installed"):
        make_target(broken, "dev", fake_clock)
