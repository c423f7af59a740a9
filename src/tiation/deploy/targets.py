"""Which target an environment runs on. Kept apart from the engine so read commands start fast."""

from __future__ import annotations

from tiation.clock import Clock
from tiation.config.platform_file import LoadedPlatform
from tiation.targets.base import Target


def make_target(loaded: LoadedPlatform, environment: str, clock: Clock) -> Target:
    """The target an environment names in the platform file."""
    env = loaded.core.environments[environment]
    if env.target == "local":
        from tiation.targets.local.target import LocalTarget

        return LocalTarget(loaded.root / ".tiation", environment, host=env.local.host, clock=clock)
    if env.target == "kubernetes":
        from tiation.targets.kubernetes.target import KubernetesTarget

        settings = env.kubernetes
        kubeconfig = str(loaded.root / settings.kubeconfig) if settings.kubeconfig else None
        return KubernetesTarget(
            environment,
            namespace=settings.namespace,
            context=settings.context,
            kubeconfig=kubeconfig,
            progress_deadline_s=(
                settings.progress_deadline.total_seconds() if settings.progress_deadline else None
            ),
            clock=clock,
        )
    if env.target == "compose":
        from tiation.targets.compose.target import ComposeTarget

        project = env.compose.project or f"{loaded.core.project.name}-{environment}"
        return ComposeTarget(
            loaded.root / ".tiation",
            environment,
            project=project,
            docker_host=env.compose.docker_host,
            clock=clock,
        )
    from tiation.targets.fake import FakeTarget

    return FakeTarget(clock=clock)
