"""Checks across the platform file that the models cannot do alone (names that refer to other entries).

Each problem is located in the file; all of them are raised together (ConfigErrors, in file order).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tiation.config.errors_map import located_errors
from tiation.config.models import Platform
from tiation.config.positions import Position, format_path, walk
from tiation.errors import did_you_mean

Problem = tuple[Position, str, str]
"""(position, field path, message)."""


def check_references(platform: Platform, root: Any, file: str) -> None:
    """Raise ConfigErrors for the cross-reference mistakes in the file (first in the file first), if any."""
    problems = [
        *_dependencies(platform, root),
        *_cycles(platform, root),
        *_overrides(platform, root),
        *_local_settings(platform, root),
        *_container_images(platform, root),
        *_ports(platform, root),
        *_tiers(platform, root),
        *_backups(platform, root),
        *_alert_rules(platform, root),
        *_oncall(platform, root),
        *_alerting(platform, root),
    ]
    if problems:
        raise located_errors(problems, file)


def _alert_rules(platform: Platform, root: Any) -> Iterator[Problem]:
    from tiation.config.rules import DEFAULT_SEVERITIES, check_rules

    severities = list(platform.alerting.severities) or list(DEFAULT_SEVERITIES)
    for path, message in check_rules(platform.alerting.rules, severities):
        yield _problem(root, path, message)


def _oncall(platform: Platform, root: Any) -> Iterator[Problem]:
    from tiation.config.oncall import oncall_problems

    for path, message in oncall_problems(platform.oncall, platform.people):
        yield _problem(root, path, message)


def _alerting(platform: Platform, root: Any) -> Iterator[Problem]:
    from tiation.config.alerting_checks import alerting_problems

    for path, message in alerting_problems(platform):
        yield _problem(root, path, message)


def _problem(root: Any, path: Sequence[Any], message: str, *, at_key: bool = False) -> Problem:
    here = walk(root, path)
    # A key the file leaves out (a default) has no position: point at the mapping that would hold it.
    pos = here.key_pos if at_key or here.leftover is not None else here.value_pos
    steps = [(part, isinstance(part, int)) for part in path]
    return pos, format_path(steps), message


def _suggest(name: str, known: Sequence[str]) -> str:
    close = did_you_mean(name, known)
    return f" (did you mean {close!r}?)" if close else ""


def _dependencies(platform: Platform, root: Any) -> Iterator[Problem]:
    names = list(platform.services)
    for name, service in platform.services.items():
        for i, dep in enumerate(service.depends_on):
            path = ("services", name, "depends_on", i)
            if dep == name:
                yield _problem(root, path, "a service cannot depend on itself")
            elif dep not in platform.services:
                yield _problem(root, path, f"unknown service {dep!r}{_suggest(dep, names)}")


def _cycles(platform: Platform, root: Any) -> Iterator[Problem]:
    graph = {
        name: [d for d in service.depends_on if d != name and d in platform.services]
        for name, service in platform.services.items()
    }
    cycle = find_cycle(graph)
    if cycle:
        first, second = cycle[0], cycle[1]
        index = platform.services[first].depends_on.index(second)
        here = walk(root, ("services", first, "depends_on", index))
        yield here.value_pos, f"services.{first}.depends_on", "dependency cycle " + " -> ".join(cycle)


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle as `[a, b, a]`, or None. Deterministic: nodes are visited in the mapping's order."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in graph.get(node, ()):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state and (found := visit(node)):
            return found
    return None


def _overrides(platform: Platform, root: Any) -> Iterator[Problem]:
    names = list(platform.services)
    for env_name, env in platform.environments.items():
        for name in env.services:
            if name not in platform.services:
                path = ("environments", env_name, "services", name)
                yield _problem(root, path, f"unknown service {name!r}{_suggest(name, names)}", at_key=True)


def _local_settings(platform: Platform, root: Any) -> Iterator[Problem]:
    local_env = next((n for n, e in platform.environments.items() if e.traits.local_run), None)
    if local_env is None:
        return
    for name, service in platform.services.items():
        if service.local is None:
            target = platform.environments[local_env].target
            message = f"missing 'local' run settings, needed by environment {local_env!r} (target {target})"
            yield _problem(root, ("services", name), message, at_key=True)


def _container_images(platform: Platform, root: Any) -> Iterator[Problem]:
    env_name = next((n for n, e in platform.environments.items() if e.traits.containers), None)
    if env_name is None:
        return
    target = platform.environments[env_name].target
    for name, service in platform.services.items():
        if service.image is None:
            message = f"missing 'image', needed by environment {env_name!r} (target {target})"
            yield _problem(root, ("services", name), message, at_key=True)


def _ports(platform: Platform, root: Any) -> Iterator[Problem]:
    for env_name, env in platform.environments.items():
        used: dict[int, str] = {}
        for name in platform.services:
            port = platform.service_in(env_name, name).port
            override = env.services.get(name)
            if override is not None and override.port is not None:
                path: tuple[str, ...] = ("environments", env_name, "services", name, "port")
            else:
                path = ("services", name, "port")
            if port in used:
                message = f"port {port} is also used by service {used[port]!r} in environment {env_name!r}"
                yield _problem(root, path, message)
            else:
                used[port] = name


def _tiers(platform: Platform, root: Any) -> Iterator[Problem]:
    tiers = list(platform.objectives.tiers)
    if not tiers:
        return
    for name, service in platform.services.items():
        if service.tier not in tiers:
            hint = (
                _suggest(service.tier, tiers) or f"; objectives.tiers defines {', '.join(map(repr, tiers))}"
            )
            yield _problem(root, ("services", name, "tier"), f"unknown tier {service.tier!r}{hint}")


def _backups(platform: Platform, root: Any) -> Iterator[Problem]:
    storages = list(platform.storage)
    tiers = list(platform.objectives.tiers)
    for name, backup in platform.backups.items():
        if backup.storage not in platform.storage:
            known = (
                f"; storage defines {', '.join(map(repr, storages))}"
                if storages
                else "; storage defines none"
            )
            hint = _suggest(backup.storage, storages) or known
            yield _problem(root, ("backups", name, "storage"), f"unknown storage {backup.storage!r}{hint}")
        if backup.tier is not None and backup.tier not in tiers:
            hint = (
                _suggest(backup.tier, tiers)
                or f"; objectives.tiers defines {', '.join(map(repr, tiers)) or 'none'}"
            )
            yield _problem(root, ("backups", name, "tier"), f"unknown tier {backup.tier!r}{hint}")
