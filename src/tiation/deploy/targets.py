"""Which target an environment runs on. Kept apart from the engine so read commands start fast.

The built-in targets are one mapping below (each imported only when an environment uses it). Any other
`target:` kind is found by name: first among makers registered in this process (`register_target`, the hook
tests use), then among the `tiation.targets` entry points of the installed packages (how the shipped fake
target is found for `target: fake`, and how an out-of-tree target plugs in).
"""

from __future__ import annotations

from collections.abc import Callable

from tiation.clock import Clock
from tiation.config.platform_file import LoadedPlatform
from tiation.errors import TargetError
from tiation.targets.base import Target

TargetMaker = Callable[[LoadedPlatform, str, Clock], Target]
"""Makes the target of one environment: (the loaded platform file, environment name, clock) -> Target."""

ENTRY_POINT_GROUP = "tiation.targets"

_registered: dict[str, TargetMaker] = {}


def _local(loaded: LoadedPlatform, environment: str, clock: Clock) -> Target:
    from tiation.targets.local.target import LocalTarget

    host = loaded.core.environments[environment].local.host
    return LocalTarget(loaded.root / ".tiation", environment, host=host, clock=clock)


def _kubernetes(loaded: LoadedPlatform, environment: str, clock: Clock) -> Target:
    from tiation.targets.kubernetes.target import KubernetesTarget

    settings = loaded.core.environments[environment].kubernetes
    kubeconfig = str(loaded.root / settings.kubeconfig) if settings.kubeconfig else None
    deadline = settings.progress_deadline
    return KubernetesTarget(
        environment,
        namespace=settings.namespace,
        context=settings.context,
        kubeconfig=kubeconfig,
        progress_deadline_s=deadline.total_seconds() if deadline else None,
        clock=clock,
    )


def _compose(loaded: LoadedPlatform, environment: str, clock: Clock) -> Target:
    from tiation.targets.compose.target import ComposeTarget

    settings = loaded.core.environments[environment].compose
    project = settings.project or f"{loaded.core.project.name}-{environment}"
    return ComposeTarget(
        loaded.root / ".tiation", environment, project=project, docker_host=settings.docker_host, clock=clock
    )


BUILTIN: dict[str, TargetMaker] = {"local": _local, "kubernetes": _kubernetes, "compose": _compose}


def register_target(kind: str, maker: TargetMaker) -> None:
    """Make environments with `target: <kind>` use `maker` in this process (tests; embedding programs)."""
    _registered[kind] = maker


def unregister_target(kind: str) -> None:
    """Undo `register_target` (a no-op when `kind` is not registered)."""
    _registered.pop(kind, None)


def _maker(kind: str) -> TargetMaker:
    found = BUILTIN.get(kind) or _registered.get(kind)
    if found is not None:
        return found
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP, name=kind):
        maker: TargetMaker = point.load()
        return maker
    raise TargetError(f"no target of kind {kind!r} is installed (entry point group {ENTRY_POINT_GROUP!r})")


def make_target(loaded: LoadedPlatform, environment: str, clock: Clock) -> Target:
    """The target an environment names in the platform file."""
    kind = loaded.core.environments[environment].target
    return _maker(kind)(loaded, environment, clock)
