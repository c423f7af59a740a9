"""The platform file's `storage:` and `backups:` sections."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from tiation.config.durations import Duration

_AGE_RECIPIENT = re.compile(r"^age1[02-9ac-hj-np-z]{58}$")
_CRON_FIELD = re.compile(r"^[\d*,/\-A-Za-z?LW#]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, arbitrary_types_allowed=True)


def _age_recipient(value: str) -> str:
    if not _AGE_RECIPIENT.match(value):
        raise ValueError(
            f"unknown recipient format {value[:12]!r}…: expected an age public key 'age1…' (62 chars)"
        )
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
    access_key: str | None = None
    secret_key: str | None = None


class Storage(_Strict):
    """Exactly one of `dir` or `s3`."""

    dir: DirStorage | None = None
    s3: S3Storage | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Storage:
        if (self.dir is None) == (self.s3 is None):
            raise ValueError("a storage needs exactly one of 'dir' or 's3'")
        return self


class PostgresBackup(_Strict):
    dsn: str
    """A secret reference (env:NAME / file:PATH) to a postgresql:// URL."""
    format: str = Field(default="custom", pattern="^(custom|plain)$")


class SqliteBackup(_Strict):
    path: str


class FilesBackup(_Strict):
    paths: list[str] = Field(min_length=1)


class BackupSource(_Strict):
    """Exactly one of `postgres`, `sqlite`, `files`."""

    postgres: PostgresBackup | None = None
    sqlite: SqliteBackup | None = None
    files: FilesBackup | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> BackupSource:
        kinds = [k for k in ("postgres", "sqlite", "files") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a backup source needs exactly one of 'postgres', 'sqlite' or 'files'")
        return self

    @property
    def kind(self) -> str:
        return "postgres" if self.postgres else "sqlite" if self.sqlite else "files"


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


def _secret_ref(value: str) -> str:
    scheme, sep, name = value.partition(":")
    if not sep or scheme not in ("env", "file") or not name:
        raise ValueError("expected a secret reference 'env:NAME' or 'file:PATH' (never a literal key)")
    return value


class Encryption(_Strict):
    recipients: list[AgeRecipient] = Field(min_length=1)
    """age public keys: whoever holds a matching identity can restore; the backup host need not."""
    identity: Annotated[str, AfterValidator(_secret_ref)] | None = None
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
