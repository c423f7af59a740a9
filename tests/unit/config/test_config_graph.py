"""Dependency order of services."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tiation.config.graph import dependents, deploy_order
from tiation.config.models import Platform
from tiation.errors import ConfigError, UsageError


def _platform(deps: dict[str, list[str]]) -> Platform:
    services: dict[str, Any] = {
        name: {"port": 8000 + i, "depends_on": d} for i, (name, d) in enumerate(deps.items())
    }
    return Platform.model_validate(
        {"project": {"name": "p"}, "environments": {"dev": {"target": "fake"}}, "services": services}
    )


# web -> api -> (db, cache); worker -> db; docs has no dependencies
SHOP = _platform(
    {
        "web": ["api"],
        "api": ["db", "cache"],
        "worker": ["db"],
        "db": [],
        "cache": [],
        "docs": [],
    }
)


def test_dependencies_come_first_and_ties_go_by_name() -> None:
    assert deploy_order(SHOP, SHOP.services) == ["cache", "db", "api", "docs", "web", "worker"]


def test_order_does_not_depend_on_input_order() -> None:
    orders = {
        tuple(deploy_order(SHOP, perm)) for perm in itertools.permutations(["web", "db", "api", "worker"])
    }
    assert orders == {("db", "api", "web", "worker")}


def test_only_the_given_services_are_ordered() -> None:
    assert deploy_order(SHOP, ["web", "api"]) == ["api", "web"]


def test_indirect_dependencies_order_a_subset() -> None:
    # web needs db only through api, which is not given
    assert deploy_order(SHOP, ["web", "db"]) == ["db", "web"]


def test_duplicates_are_ordered_once() -> None:
    assert deploy_order(SHOP, ["db", "db", "api"]) == ["db", "api"]


def test_empty_selection() -> None:
    assert deploy_order(SHOP, []) == []


def test_unknown_service_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown service 'shop'"):
        deploy_order(SHOP, ["web", "shop"])


def test_cycle_in_an_unchecked_platform_is_a_config_error() -> None:
    platform = _platform({"a": ["b"], "b": ["a"]})
    with pytest.raises(ConfigError, match=r"dependency cycle a -> b -> a"):
        deploy_order(platform, ["a"])


def test_direct_dependents() -> None:
    assert dependents(SHOP, "db") == ["api", "worker"]
    assert dependents(SHOP, "web") == []


def test_transitive_dependents() -> None:
    assert dependents(SHOP, "db", transitive=True) == ["api", "web", "worker"]
    assert dependents(SHOP, "cache", transitive=True) == ["api", "web"]


def test_dependents_of_unknown_service() -> None:
    with pytest.raises(UsageError, match="unknown service 'nope'"):
        dependents(SHOP, "nope")
