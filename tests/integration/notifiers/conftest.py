"""Fixtures for the notifier tests: HTTP receivers on free loopback ports, closed at teardown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from notify_kit import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def other_receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()
