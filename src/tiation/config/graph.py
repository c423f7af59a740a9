"""Service dependency order (`depends_on`)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from tiation.config.checks import find_cycle
from tiation.config.models import Platform
from tiation.errors import ConfigError, unknown_name


def _deps(platform: Platform) -> dict[str, list[str]]:
    return {
        name: [d for d in service.depends_on if d in platform.services]
        for name, service in platform.services.items()
    }


def _reachable(graph: dict[str, list[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph[node])
    return seen


def deploy_order(platform: Platform, services: Iterable[str]) -> list[str]:
    """`services` in deploy order: dependencies first, ties broken by name.

    Only the given services are ordered (missing dependencies are not added), but an indirect dependency
    counts: if a needs b and b needs c, c comes before a even when b is not given. Raises UsageError for an
    unknown service and ConfigError for a dependency cycle (a loaded platform has none).
    """
    wanted = sorted(set(services))
    unknown = [s for s in wanted if s not in platform.services]
    if unknown:
        raise unknown_name("service", unknown[0], platform.services)
    graph = _deps(platform)
    cycle = find_cycle(graph)
    if cycle:
        raise ConfigError("dependency cycle " + " -> ".join(cycle), field=f"services.{cycle[0]}.depends_on")
    needs = {s: _reachable(graph, s) & set(wanted) for s in wanted}
    waiting = {s: len(needs[s]) for s in wanted}
    ready = [s for s in wanted if not waiting[s]]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        service = heapq.heappop(ready)
        order.append(service)
        for other in wanted:
            if service in needs[other]:
                waiting[other] -= 1
                if not waiting[other]:
                    heapq.heappush(ready, other)
    return order


def dependents(platform: Platform, service: str, *, transitive: bool = False) -> list[str]:
    """The services that depend on `service` directly (with `transitive`: at any distance), sorted."""
    if service not in platform.services:
        raise unknown_name("service", service, platform.services)
    graph = _deps(platform)
    if transitive:
        return sorted(name for name in graph if service in _reachable(graph, name))
    return sorted(name for name, deps in graph.items() if service in deps)
