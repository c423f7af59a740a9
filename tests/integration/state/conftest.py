"""Fixtures for the state tests: the same test runs against a SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tiation.clock import FakeClock
from tiation.state import StateStore

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty state database, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(state_url: str, fake_clock: FakeClock) -> Iterator[StateStore]:
    """An open store on a fresh database, on a fake clock."""
    with StateStore.open(state_url, clock=fake_clock) as s:
        yield s
