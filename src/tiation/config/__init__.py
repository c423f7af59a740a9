"""The platform file: models, loading with line:column errors, dependency order and a summary.

The exports below are resolved lazily, so importing one light module of this package (`models` from a cached
snapshot, say) does not import the YAML parser and the checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiation.lazy import lazy_exports

if TYPE_CHECKING:
    from tiation.config.graph import dependents, deploy_order
    from tiation.config.loader import LoadedPlatform, find_platform_file, load_platform
    from tiation.config.models import Platform, Probe, Service
    from tiation.config.summary import summarize

_EXPORTS = {
    "LoadedPlatform": "tiation.config.loader",
    "Platform": "tiation.config.models",
    "Probe": "tiation.config.models",
    "Service": "tiation.config.models",
    "dependents": "tiation.config.graph",
    "deploy_order": "tiation.config.graph",
    "find_platform_file": "tiation.config.loader",
    "load_platform": "tiation.config.loader",
    "summarize": "tiation.config.summary",
}

__all__ = [
    "LoadedPlatform",
    "Platform",
    "Probe",
    "Service",
    "dependents",
    "deploy_order",
    "find_platform_file",
    "load_platform",
    "summarize",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)
