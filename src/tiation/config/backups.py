"""The platform file's `storage:` and `backups:` sections."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from tiation.config.base import EnvValue, SecretValue
from tiation.config.durations import Duration
from tiation.secrets import SecretRef

_AGE_RECIPIENT = re.compile(r"^age1[02-9ac-hj-np-z]{58}$")
_CRON_FIELD = re.compile(r"^[\d*,/\-A-Za-z?LW#]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, arbitrary_types_allowed=True, defer_build=True
    )


_M = TypeVar("_M", bound=BaseModel)


def with_secret_base(model: _M, base: Path) -> _M:
    """A copy of `model` whose secret references (at any depth) resolve `file:` paths relative to `base`."""
    update: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretRef):
            update[name] = SecretRef(value.ref, base=base)
        elif isinstance(value, BaseModel):
            update[name] = with_secret_base(value, base)
    return model.model_copy(update=update) if update else model


def _age_recipient(value: str) -> str:
    """An age (`age1…`) or SSH (`ssh-ed25519 …`, `ssh-rsa …`) public key that pyrage can parse.

    A regex alone let keys with a bad Bech32 checksum through, and the backup then failed at encryption setup.
    """
    import pyrage  # type: ignore[import-untyped]  # imported here: only files with backups pay for it

    key = value.strip()
    if key.startswith(("ssh-ed25519 ", "ssh-rsa ")):
        try:
            pyrage.ssh.Recipient.from_str(key)
        except Exception:
            raise ValueError(f"not a valid SSH public key {key[:20]!r}… (pyrage cannot parse it)") from None
        return value
    if not _AGE_RECIPIENT.match(key):
        raise ValueError(
            f"unknown recipient format {value[:12]!r}…: expected an age public key 'age1…' (62 chars)"
        )
    try:
        pyrage.x25519.Recipient.from_str(key)
    except Exception:
        raise ValueError(
            f"not a valid age public key {key[:12]!r}…: its Bech32 checksum does not match (a typo?)"
        ) from None
    return value


def _cron(value: str) -> str:
    fields = value.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ValueError(f"expected a cron schedule of 5 fields like '0 2 * * *', got {value!r}")
    from croniter import croniter

    if not croniter.is_valid(value):
        raise ValueError(f"invalid cron schedule {value!r}")
    return value


AgeRecipient = Annotated[str, AfterValidator(_age_recipient)]
Cron = Annotated[str, AfterValidator(_cron)]


class DirStorage(_Strict):
    path: str
    """A directory; relative paths are resolved against the platform file's directory."""


class S3Storage(_Strict):
    bucket: str = Field(min_length=3, max_length=63)
    prefix: str = ""
    endpoint: str | None = None
    region: str = "us-east-1"
    access_key: EnvValue | None = None
    secret_key: EnvValue | None = None
    """Plain, or a secret reference (`env:NAME` / `file:PATH`, a SecretRef once loaded)."""
    abort_uploads_after: Duration = timedelta(hours=24)
    """A backup's start-up cleanup aborts only multipart uploads initiated longer ago than this: others may be
    another process's backup in flight (S3 cannot tell a dead uploader from a live one)."""


class Storage(_Strict):
    """Exactly one of `dir` or `s3`."""

    dir: DirStorage | None = None
    s3: S3Storage | None = None
    orphan_grace: Duration = timedelta(hours=1)
    """Cleanup and prune remove a backup's objects that have no manifest once they are older than this (a run
    killed between storing the data and writing the manifest); younger ones may be a backup finishing now."""

    @model_validator(mode="after")
    def _one_kind(self) -> Storage:
        if (self.dir is None) == (self.s3 is None):
            raise ValueError("a storage needs exactly one of 'dir' or 's3'")
        return self


class SourceSettings(_Strict):
    """Base of a backup source's settings; the source's key under `source:` is its plug-in's kind."""


class PostgresBackup(SourceSettings):
    dsn: SecretValue
    """A secret reference (env:NAME / file:PATH) to a postgresql:// URL (it may hold a password)."""
    format: str = Field(default="custom", pattern="^(custom|plain)$")


class SqliteBackup(SourceSettings):
    path: str


class FilesBackup(SourceSettings):
    paths: list[str] = Field(min_length=1)


class BackupSource(_Strict):
    """Exactly one source, under the key of its kind (each key is a backup source plug-in's kind)."""

    postgres: PostgresBackup | None = None
    sqlite: SqliteBackup | None = None
    files: FilesBackup | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> BackupSource:
        if len([k for k in type(self).model_fields if getattr(self, k) is not None]) != 1:
            names = [repr(k) for k in type(self).model_fields]
            raise ValueError(f"a backup source needs exactly one of {', '.join(names[:-1])} or {names[-1]}")
        return self

    @property
    def kind(self) -> str:
        """The key that is set: the kind of the source plug-in."""
        return next(k for k in type(self).model_fields if getattr(self, k) is not None)

    @property
    def settings(self) -> SourceSettings:
        """The settings under that key."""
        settings = getattr(self, self.kind)
        assert isinstance(settings, SourceSettings)
        return settings


class Retention(_Strict):
    keep_last: int = Field(default=7, ge=0)
    hourly: int = Field(default=0, ge=0)
    daily: int = Field(default=7, ge=0)
    weekly: int = Field(default=4, ge=0)
    monthly: int = Field(default=6, ge=0)
    yearly: int = Field(default=0, ge=0)
    max_age: Duration | None = None
    min_keep: int = Field(default=2, ge=1)
    max_delete_share: float = Field(default=0.5, gt=0, le=1)
    timezone: str = "UTC"


class Encryption(_Strict):
    recipients: list[AgeRecipient] = Field(min_length=1)
    """age public keys: whoever holds a matching identity can restore; the backup host need not."""
    identity: SecretValue | None = None
    """Optional secret reference to an age identity (AGE-SECRET-KEY-…), used by unattended restore drills."""


class VerifyQuery(_Strict):
    sql: str
    min_rows: int = Field(default=1, ge=0)
    """The first column of the first row must be >= this (use a count(*)), or the query must return rows."""


class VerifyChecks(_Strict):
    tables: list[str] = Field(default_factory=list)
    queries: list[VerifyQuery] = Field(default_factory=list)


class Backup(_Strict):
    source: BackupSource
    storage: str
    schedule: Cron | None = None
    retention: Retention = Field(default_factory=Retention)
    encryption: Encryption | None = None
    verify: VerifyChecks = Field(default_factory=VerifyChecks)
    tier: str | None = None
    """The objectives tier whose RTO a drill is measured against."""
    drill_timeout: Duration = timedelta(hours=1)
