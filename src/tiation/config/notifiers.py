"""The platform file's `notifiers:` section: where pages go, one entry per named notifier.

Each entry has a `kind` (slack, email, webhook, pagerduty, phone, log) and that kind's settings. Every
credential — webhook URLs, routing keys, SMTP passwords, HMAC secrets, provider tokens — must be a secret
reference (`env:NAME` / `file:PATH`), resolved only when a notification is sent, so an unset variable never
breaks `validate` or `deploy`.

`Notifier` wraps the per-kind models (a union told apart by `kind`, built from `MODELS`) so that
`Platform.notifiers` keeps one type; a missing or unknown `kind` is reported at its own line like every other
mistake. A new kind is one settings model here plus one line in `MODELS` (and its implementation's line in
`tiation.alerting.notifiers.factory.IMPLEMENTATIONS`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union, get_args

from pydantic import (
    AfterValidator,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tiation.config.base import EnvValue, Secret, Strict, matching
from tiation.config.durations import Duration
from tiation.secrets import SecretRef

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
MAX_TIMEOUT = timedelta(seconds=60)

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{3,30}$")


def _timeout(value: timedelta) -> timedelta:
    if value <= timedelta(0) or value > MAX_TIMEOUT:
        raise ValueError("a notifier timeout must be more than 0s and at most 60s")
    return value


def _address(value: str) -> str:
    return matching(_EMAIL, value, "an email address like 'alerts@example.com'")


def _phone(value: str) -> str:
    return matching(_PHONE, value, "a phone number like '+1-555-0101'")


def _http_url(value: str | SecretRef) -> str | SecretRef:
    if isinstance(value, str) and not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL (or a secret reference to one)")
    return value


Timeout = Annotated[Duration, AfterValidator(_timeout)]
Address = Annotated[str, AfterValidator(_address)]
PhoneNumber = Annotated[str, AfterValidator(_phone)]
Url = Annotated[EnvValue, AfterValidator(_http_url)]
"""A URL written in the file, or a secret reference to one (when it holds a token)."""


class NotifierSettings(Strict):
    """The settings every notifier kind's model extends: a `kind` literal and its own fields."""

    kind: str
    """Narrowed by each kind's model to `Literal["<its kind>"]`."""

    relative_paths: ClassVar[tuple[str, ...]] = ()
    """Fields holding file paths that are relative to the platform file's directory."""


class _Common(NotifierSettings):
    timeout: Timeout = timedelta(seconds=10)
    """Bound on each network step of one send (connect, write, read)."""


class _HttpCommon(_Common):
    proxy: EnvValue | None = None
    """An HTTP(S) proxy URL; proxy environment variables are ignored."""


class SlackNotifier(_HttpCommon):
    """A Slack incoming webhook."""

    kind: Literal["slack"]
    webhook_url: Secret


class EmailNotifier(_Common):
    """Email over SMTP."""

    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["email"]
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    """Upgrade the connection with STARTTLS before authenticating (refuse to send if the server cannot)."""
    ca_file: str | None = None
    """PEM file of certificate authorities to trust for STARTTLS (default: the system's); relative to the
    platform file."""
    username: EnvValue | None = None
    password: Secret | None = None
    sender: Address = Field(alias="from")
    to: list[Address] = Field(default_factory=list)
    """Addresses for notifications to a channel; a page to a person goes to the person's email."""

    relative_paths: ClassVar[tuple[str, ...]] = ("ca_file",)

    @field_validator("password")
    @classmethod
    def _needs_username(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("username") is None:
            raise ValueError("a password needs a 'username'")
        return value

    @model_validator(mode="after")
    def _needs_password(self) -> EmailNotifier:
        if self.username is not None and self.password is None:
            raise ValueError("a 'username' needs a 'password' (a secret reference)")
        return self


class WebhookNotifier(_HttpCommon):
    """A generic JSON webhook, signed with HMAC-SHA256."""

    kind: Literal["webhook"]
    url: Secret
    secret: Secret
    """The HMAC key the receiver verifies `X-Tiation-Signature` with."""


class PagerDutyNotifier(_HttpCommon):
    """PagerDuty Events API v2."""

    kind: Literal["pagerduty"]
    routing_key: Secret
    url: Url = PAGERDUTY_EVENTS_URL
    source: str | None = None
    """`payload.source`; default: the alert's `instance` or `service` label, else 'tiation'."""


class PhoneNotifier(_HttpCommon):
    """Phone call / SMS through a provider's webhook: JSON {to, message, key} with a bearer token."""

    kind: Literal["phone"]
    url: Url
    token: Secret
    to: PhoneNumber | None = None
    """The number for notifications to a channel; a page to a person goes to the person's phone."""
    max_chars: int = Field(default=300, ge=40, le=1600)


class LogNotifier(NotifierSettings):
    """JSON lines appended to a file, one per notification (secrets masked): for local setups and tests."""

    kind: Literal["log"]
    path: str = Field(min_length=1)
    """The file to append to (created if missing); relative to the platform file."""

    relative_paths: ClassVar[tuple[str, ...]] = ("path",)


MODELS: tuple[type[NotifierSettings], ...] = (
    SlackNotifier,
    EmailNotifier,
    WebhookNotifier,
    PagerDutyNotifier,
    PhoneNotifier,
    LogNotifier,
)
"""Every notifier kind's settings model: a new kind is one model above and one line here."""


def kind_of(model: type[NotifierSettings]) -> str:
    """The `kind` a settings model is told apart by (its `kind: Literal[...]` field)."""
    (kind,) = get_args(model.model_fields["kind"].annotation)
    return str(kind)


KINDS = tuple(kind_of(m) for m in MODELS)
_BAD_KIND = "?kind"

if TYPE_CHECKING:
    _KindName = str
    _Tagged = NotifierSettings
else:
    _KindName = Literal[KINDS]


class _UnknownKind(Strict):
    """Takes a notifier whose `kind` is missing or unknown, so that the error points at `kind` itself."""

    model_config = ConfigDict(extra="ignore")

    kind: _KindName


def _kind_tag(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if isinstance(kind, str) and kind in KINDS else _BAD_KIND


if not TYPE_CHECKING:
    _members = (*(Annotated[m, Tag(kind_of(m))] for m in MODELS), Annotated[_UnknownKind, Tag(_BAD_KIND)])
    _Tagged = Annotated[Union[_members], Discriminator(_kind_tag)]  # noqa: UP007 (a union built from data)


class Notifier(RootModel[_Tagged]):
    """One named notifier: the settings of its kind (`.settings`), told apart by `kind`."""

    model_config = ConfigDict(frozen=True)

    @property
    def settings(self) -> NotifierSettings:
        """The kind's settings model."""
        assert not isinstance(self.root, _UnknownKind)  # never validates: its `kind` is always wrong
        return self.root

    @property
    def kind(self) -> str:
        return str(self.root.kind)

    def with_secret_base(self, base: Path) -> Notifier:
        """A copy whose `file:` secret references and relative paths resolve against `base` (the platform
        file's directory)."""
        settings = self.settings
        update: dict[str, Any] = {
            field: SecretRef(value.ref, base=base)
            for field in type(settings).model_fields
            if isinstance(value := getattr(settings, field), SecretRef)
        }
        for field in settings.relative_paths:
            value = getattr(settings, field)
            if value and not Path(value).is_absolute():
                update[field] = str(base / value)
        return Notifier(settings.model_copy(update=update))
