"""Backup source plug-ins: one module (or package) per kind, named after the kind, exporting `SOURCE`.

A plug-in's kind is the key of its settings under `source:` in the platform file (`BackupSource` in
`config/backups.py`), so a new source is its settings model there plus one module here, and nothing else:
`source_type(kind)` imports `tiation.backup.sources.<kind>` on first use (a sqlite backup never imports
psycopg), and `source_types()` finds every plug-in with pkgutil. `SOURCE` is a class (or any object) that
has the kind and builds a `Source` from the settings (the `SourceType` protocol in `base.py`).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import cast

from tiation.backup.sources.base import Source, SourceType
from tiation.config.backups import BackupSource
from tiation.errors import BackupError

_NOT_PLUGINS = frozenset({"base"})


def source_type(kind: str) -> SourceType:
    """The plug-in of `kind`, or a one-line BackupError if there is none."""
    if kind in _NOT_PLUGINS or not kind.isidentifier():
        raise BackupError(f"no backup source plug-in for kind {kind!r}")
    name = f"{__name__}.{kind}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise  # the plug-in exists but one of its own imports is missing
        raise BackupError(f"no backup source plug-in for kind {kind!r}") from None
    plugin = cast(SourceType | None, vars(module).get("SOURCE"))
    if plugin is None or plugin.kind != kind:
        raise BackupError(f"{name} does not export SOURCE with kind {kind!r}")
    return plugin


def source_kinds() -> list[str]:
    """The kinds of every plug-in module in this package (without importing them)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_PLUGINS)


def source_types() -> dict[str, SourceType]:
    """Every plug-in, by kind."""
    return {kind: source_type(kind) for kind in source_kinds()}


def build_source(config: BackupSource, root: Path) -> Source:
    """The source a backup's `source:` settings describe; relative paths are relative to `root`."""
    return source_type(config.kind).from_settings(config.settings, root)
