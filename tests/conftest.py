"""Root test configuration: shared fixtures live in tests/fixtures/ and are registered here."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

pytest_plugins = [
    "fixtures.common",
    "fixtures.postgres",
    "fixtures.eco",
    "fixtures.seaweedfs",
    "fixtures.monitoring",
    "fixtures.kube",
    "fixtures.docker",
]
