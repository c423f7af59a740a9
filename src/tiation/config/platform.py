"""The whole platform file: the deploy core (`tiation.config.models`) plus every other section's models."""

from __future__ import annotations

from pydantic import Field

from tiation.config.alerting import Alerting
from tiation.config.backups import Backup, Storage
from tiation.config.base import Name
from tiation.config.models import PlatformCore
from tiation.config.notifiers import Notifier
from tiation.config.oncall import Oncall, Person
from tiation.config.server import Server


class Platform(PlatformCore):
    """The whole platform file."""

    storage: dict[Name, Storage] = Field(default_factory=dict)
    backups: dict[Name, Backup] = Field(default_factory=dict)
    people: dict[Name, Person] = Field(default_factory=dict)
    oncall: Oncall = Field(default_factory=Oncall)
    notifiers: dict[Name, Notifier] = Field(default_factory=dict)
    alerting: Alerting = Field(default_factory=Alerting)
    server: Server = Field(default_factory=Server)
