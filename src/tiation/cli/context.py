"""What commands share: the platform file, the state store, the engine — each built on first use."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiation.clock import Clock, SystemClock

if TYPE_CHECKING:
    from tiation.config.platform_file import LoadedPlatform
    from tiation.deploy.engine import Engine
    from tiation.state import StateStore


@dataclass
class AppContext:
    """Lazily built objects for one CLI invocation."""

    file: str | None = None
    state_url: str | None = None
    actor: str | None = None
    clock: Clock = field(default_factory=SystemClock)
    _loaded: LoadedPlatform | None = None
    _store: StateStore | None = None

    def who(self) -> str:
        """The acting person: --as, else $TIATION_ACTOR, else the OS user."""
        if self.actor:
            return self.actor
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return f"uid-{os.getuid()}"

    def loaded(self) -> LoadedPlatform:
        if self._loaded is None:
            from tiation.config.platform_file import find_platform_file
            from tiation.config.snapshot import load_platform_cached

            self._loaded = load_platform_cached(find_platform_file(self.file))
            os.environ.setdefault("TIATION_FILE", str(self._loaded.path))
        return self._loaded

    def state_location(self) -> str:
        """The state URL: --state / $TIATION_STATE, else the file's `state.url`, else SQLite beside the file."""
        if self.state_url:
            return self.state_url
        loaded = self.loaded()
        if loaded.core.state.url is not None:
            url = loaded.core.state.url
            return url.reveal() if hasattr(url, "reveal") else str(url)
        from tiation.state import default_state_url

        return default_state_url(loaded.root)

    def store(self) -> StateStore:
        if self._store is None:
            from tiation.state import StateStore

            self._store = StateStore.open(self.state_location(), clock=self.clock)
        return self._store

    def engine(self, report: Any = None) -> Engine:
        from tiation.deploy.engine import Engine
        from tiation.deploy.targets import make_target

        loaded = self.loaded()
        engine = Engine(
            loaded=loaded,
            store=self.store(),
            clock=self.clock,
            actor=self.who(),
            targets=lambda env: make_target(loaded, env, self.clock),
        )
        if report is not None:
            engine.report = report
        return engine

    def root(self) -> Path:
        return self.loaded().root

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
