"""Fixtures for the local target: a target under tmp_path, torn down with every process it started."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from local_kit import ENV, Kit

from fixtures.common import our_processes
from tiation.clock import SystemClock
from tiation.targets.local.target import LocalTarget


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    root = tmp_path / ".tiation"
    target = LocalTarget(root, ENV, clock=SystemClock())
    kit = Kit(target, target.root, tmp_path)
    try:
        yield kit
    finally:
        for service in kit.services():
            target.stop(service)
        stray = our_processes(target.root)
        assert stray == [], f"processes left behind: {stray}"
