"""A target's optional abilities, as a typed object the deploy engine asks for (`Target.capabilities()`).

The `Target` protocol stays small; what only some targets can do is here, with a default for "cannot". The
engine never tests a target's type or kind to find out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from tiation.targets.base import Endpoint, Release

ProbeAnswer: TypeAlias = "Callable[[Endpoint, str], tuple[bool, str]]"
"""Answers a probe of the instance behind an endpoint, for a version: (passing, detail)."""


@dataclass(frozen=True)
class TargetProbing:
    """A target that answers probes itself: a cluster reports its rollout (it runs the checks in the pod),
    the fake target follows its script. `kinds`: the probe kinds it answers (None: all); the deploy engine
    runs the others itself."""

    answer: ProbeAnswer
    kinds: frozenset[str] | None = None

    def answers(self, kind: str) -> bool:
        """Whether the target answers probes of `kind`."""
        return self.kinds is None or kind in self.kinds


@dataclass(frozen=True)
class Capabilities:
    """A target's optional abilities. The deploy engine asks for these (`target.capabilities()`) instead of
    testing a target's type or kind; an ability a target lacks stays at its default."""

    precheck: Callable[[Release], Sequence[str]] | None = None
    """The target's own checks of a release before anything starts (its Secrets exist, it fits …): one line
    per problem. The plan blocks a step on them; a rollback checks them first."""
    probing: TargetProbing | None = None
    """Set when the target answers (some) probes itself instead of the engine running them."""
    secrets_on_target: bool = False
    """Secret values are read on the target's side (a cluster's Secrets): the deployer need not resolve them."""


NO_CAPABILITIES = Capabilities()
"""What a target without optional abilities returns."""
