"""Which target an environment runs on. Kept apart from the engine so read commands start fast."""

from __future__ import annotations

from tiation.clock import Clock
from tiation.config.loader import LoadedPlatform
from tiation.targets.base import Target


def make_target(loaded: LoadedPlatform, environment: str, clock: Clock) -> Target:
    """The target an environment names in the platform file."""
    env = loaded.platform.environments[environment]
    if env.target == "local":
        from tiation.targets.local import LocalTarget

        return LocalTarget(loaded.root / ".tiation", environment, host=env.local.host, clock=clock)
    from tiation.targets.fake import FakeTarget

    return FakeTarget(clock=clock)
