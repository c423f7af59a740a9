"""Fixtures for the compose target: a target on the session's Docker engine, torn down with all it started."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from compose_kit import ENV, ComposeKit

from fixtures.common import our_processes
from fixtures.docker import DockerEngine
from tiation.clock import SystemClock
from tiation.targets.compose.target import ComposeTarget


@pytest.fixture
def kit(tmp_path: Path, docker_engine: DockerEngine) -> Iterator[ComposeKit]:
    project = f"t{os.urandom(3).hex()}"
    target = ComposeTarget(
        tmp_path / ".tiation", ENV, project=project, docker_host=docker_engine.host, clock=SystemClock()
    )
    kit = ComposeKit(target, docker_engine, tmp_path, project)
    try:
        yield kit
    finally:
        base = target.root / "compose" / ENV
        for service in sorted(p.name for p in base.iterdir()) if base.is_dir() else []:
            target.stop(service)
        target.engine.close()
        assert kit.containers() == [], "containers left behind"
        stray = our_processes(target.root)
        assert stray == [], f"processes left behind: {stray}"
