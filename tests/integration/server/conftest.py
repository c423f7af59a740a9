"""Fixtures starting server subprocesses (see server_kit.py); each is stopped at teardown, none may linger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_kit import ServerProcess, StartServer, launch

from fixtures.common import our_processes


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start servers for one test."""
    yield from _servers(tmp_path / "server")


@pytest.fixture(scope="module")
def start_module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartServer]:
    """Start servers shared by the tests of a module (tests that only read answers and count deltas)."""
    yield from _servers(tmp_path_factory.mktemp("server"))


def _servers(root: Path) -> Iterator[StartServer]:
    started: list[ServerProcess] = []
    root.mkdir(exist_ok=True)

    def start(*, env: dict[str, str] | None = None, **config: Any) -> ServerProcess:
        server = launch(root, f"server-{len(started)}", config, env)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
        leftovers = our_processes(root)
        assert not leftovers, f"server processes left running: {leftovers}"
