"""Where the state store lives when none is configured (no SQLAlchemy import here)."""

from __future__ import annotations

from pathlib import Path


def default_state_url(platform_root: Path) -> str:
    """The state store of a platform when none is configured: `<root>/.tiation/state.db` (SQLite)."""
    return f"sqlite:///{Path(platform_root).absolute() / '.tiation' / 'state.db'}"
