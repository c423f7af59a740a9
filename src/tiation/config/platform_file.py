"""Where the platform file is, and what a loaded one is: light enough to import on every command.

The parser and the models live elsewhere (`loader`, `models`); a command answered from a cached snapshot
(`snapshot`) imports neither the YAML parser nor the checks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tiation.errors import ConfigError

if TYPE_CHECKING:
    from tiation.config.models import Platform

DEFAULT_FILE = "tiation.yaml"
ENV_VAR = "TIATION_FILE"


@dataclass(frozen=True)
class LoadedPlatform:
    """A validated platform file and where it was read from."""

    path: Path
    platform: Platform

    @property
    def root(self) -> Path:
        """The directory of the platform file (resolved); relative paths in the file are relative to it."""
        return self.path.resolve().parent


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
