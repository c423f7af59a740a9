"""Where the platform file is, and what a loaded one is: light enough to import on every command.

The parser and the models live elsewhere (`loader`, `models`); a command answered from a cached snapshot
(`snapshot`) imports neither the YAML parser nor the checks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tiation.errors import ConfigError

if TYPE_CHECKING:
    from tiation.config.models import Platform, PlatformCore

DEFAULT_FILE = "tiation.yaml"
ENV_VAR = "TIATION_FILE"


class LoadedPlatform:
    """A validated platform file and where it was read from.

    `platform` is the whole file. `core` is its deploy core (project, state, environments, services,
    objectives): a command that reads only those asks for `core`, which a cached snapshot answers without
    building the other sections' models; `platform` is then unpickled (or, failing that, parsed) on first use.
    """

    __slots__ = ("_core", "_load", "_platform", "path")

    def __init__(
        self,
        path: Path,
        platform: Platform | None = None,
        *,
        core: PlatformCore | None = None,
        load: Callable[[], Platform] | None = None,
    ) -> None:
        if platform is None and load is None:
            raise TypeError("LoadedPlatform needs the platform or a way to load it")
        self.path = path
        self._platform = platform
        self._core = core
        self._load = load

    @property
    def platform(self) -> Platform:
        """The whole validated platform file."""
        if self._platform is None:
            assert self._load is not None
            self._platform = self._load()
        return self._platform

    @property
    def core(self) -> PlatformCore:
        """The deploy core of the platform file (the whole file, once that is loaded)."""
        if self._platform is not None:
            return self._platform
        return self._core if self._core is not None else self.platform

    @property
    def root(self) -> Path:
        """The directory of the platform file (resolved); relative paths in the file are relative to it."""
        return self.path.resolve().parent

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LoadedPlatform):
            return NotImplemented
        return self.path == other.path and self.platform == other.platform

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        return f"LoadedPlatform(path={self.path!r})"


def find_platform_file(
    explicit: str | None, *, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Path:
    """The platform file to use: `explicit` (-f/--file), else `$TIATION_FILE`, else `./tiation.yaml`.

    Relative paths are taken from `cwd` when given (else from the process's working directory, and returned
    relative so that messages show them as written). Raises ConfigError naming the path tried if it is
    missing.
    """
    env = os.environ if environ is None else environ
    if explicit:
        written, source = explicit, ""
    elif env.get(ENV_VAR):
        written, source = env[ENV_VAR], f" (from {ENV_VAR})"
    else:
        written, source = DEFAULT_FILE, ""
    path = Path(written).expanduser()
    if cwd is not None and not path.is_absolute():
        path = cwd / path
    if path.is_file():
        return path
    if path.is_dir():
        raise ConfigError(f"platform file {str(path)!r}{source} is a directory, not a file")
    if not explicit and not source:
        raise ConfigError(
            f"no platform file: {str(path)!r} does not exist", hint=f"use -f FILE or set {ENV_VAR}"
        )
    raise ConfigError(f"platform file {str(path)!r}{source} does not exist")


def read_platform_bytes(path: Path) -> bytes:
    """The platform file's bytes; ConfigError (naming the file) if it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the platform file: {exc.strerror or exc}", file=str(path)) from None
