"""Alertmanager webhook (`webhook_config`), payload version 4, into `AlertEvent`s.

The payload is one notification for one alert group: `version` ("4"), `groupKey`, `truncatedAlerts`, `status`,
`receiver`, `groupLabels`, `commonLabels`, `commonAnnotations`, `externalURL` and `alerts[]`, each alert with
`status` (firing | resolved), `labels`, `annotations`, `startsAt`, `endsAt`, `generatorURL` and Alertmanager's
own `fingerprint`. Every other version is refused: its fields may mean something else.

Each alert becomes one event. Its identity is tiation's fingerprint of its labels (Alertmanager's fingerprint
is ignored, so identities do not depend on the sender). An `endsAt` of Go's zero time means "no end".
Alertmanager resends a group on every `repeat_interval` and on every change: dedup is the pipeline's job.
Unknown keys are ignored (senders such as Grafana add their own).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from tiation.alerting.intake._wire import IntakeError, Labels, StrMap, Timestamp, Wire, alert_event, validate
from tiation.alerting.model import AlertEvent

SOURCE = "alertmanager"
VERSION = "4"


class AlertmanagerAlert(Wire):
    """One alert of a webhook notification."""

    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: StrMap = Field(default_factory=dict)
    starts_at: Timestamp = Field(default=None, alias="startsAt")
    ends_at: Timestamp = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = ""


class AlertmanagerWebhook(Wire):
    """An Alertmanager webhook notification, payload version 4.

    `version` comes first: a payload of another version is refused for that, not for a field it lacks.
    """

    version: str
    group_key: str = Field(default="", alias="groupKey")
    truncated_alerts: int = Field(default=0, ge=0, alias="truncatedAlerts")
    status: Literal["firing", "resolved"]
    receiver: str
    group_labels: StrMap = Field(default_factory=dict, alias="groupLabels")
    common_labels: StrMap = Field(default_factory=dict, alias="commonLabels")
    common_annotations: StrMap = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[AlertmanagerAlert]

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value != VERSION:
            raise ValueError(f"unsupported webhook payload version (tiation reads version {VERSION})")
        return value


def parse_alertmanager(data: object) -> list[AlertEvent]:
    """The events of one webhook notification; IntakeError (an AlertError) names the first bad field."""
    if not isinstance(data, dict):
        raise IntakeError("expected a JSON object (an Alertmanager webhook notification)")
    hook = validate(AlertmanagerWebhook, data)
    return [alert_event(SOURCE, alert, generator_url=alert.generator_url or None) for alert in hook.alerts]
