"""The platform file: models, loading with line:column errors, dependency order and a summary."""

from tiation.config.graph import dependents, deploy_order
from tiation.config.loader import LoadedPlatform, find_platform_file, load_platform
from tiation.config.models import Platform, Probe, Service
from tiation.config.summary import summarize

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
