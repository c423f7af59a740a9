"""The backup manifest: what was backed up, how, and the checksums that later prove the data intact.

Layout in a store, per backup: `<backup_id>/data.zst.age` (or `data.zst` without recipients) and
`<backup_id>/manifest.json`, written last: a backup exists (is listed) only once its manifest does.
Backup ids sort by name, then time: `<name>-<UTC yyyymmddThhmmssZ>-<4 hex>`.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Literal

import zstandard
from pydantic import BaseModel, ConfigDict, ValidationError

from tiation.backup.stores.base import Store
from tiation.errors import BackupError

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.]*(?:-[a-z0-9_.]+)*$", re.IGNORECASE)
_ID = re.compile(r"^(?P<name>.+)-(?P<ts>\d{8}T\d{6}Z)-(?P<rand>[0-9a-f]{4})$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Sizes(_Frozen):
    """Byte counts: the source stream, after zstd, and as stored (after age, if any)."""

    source_bytes: int
    compressed_bytes: int
    stored_bytes: int


class Timings(_Frozen):
    """Seconds spent per phase (the phases overlap in time; each is measured on its own)."""

    read: float
    compress: float
    encrypt: float
    checksum: float
    store: float
    total: float


class Compression(_Frozen):
    """How the stream was compressed."""

    algorithm: Literal["zstd"] = "zstd"
    level: int
    threads: int


class Encryption(_Frozen):
    """How the stream was encrypted: age to these public keys, or not at all."""

    scheme: Literal["age", "none"]
    recipients: tuple[str, ...] = ()


class Manifest(_Frozen):
    """One complete backup."""

    format_version: int = FORMAT_VERSION
    backup_id: str
    name: str
    data_object: str  # the data object's name inside the backup's directory
    source: dict[str, Any]
    started_at: datetime
    finished_at: datetime
    sizes: Sizes
    stored_sha256: str
    source_sha256: str | None = None
    """Only in manifests of early versions; the zstd frame's content checksum now guards the source bytes."""
    timings: Timings
    compression: Compression
    encryption: Encryption
    tool_versions: dict[str, str]

    @property
    def data_key(self) -> str:
        """The store key of the data object."""
        return f"{self.backup_id}/{self.data_object}"

    @property
    def manifest_key(self) -> str:
        """The store key of this manifest."""
        return manifest_key(self.backup_id)

    def to_json(self) -> bytes:
        """The manifest as it is stored (indented JSON, UTF-8)."""
        return (self.model_dump_json(indent=2) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes, backup_id: str) -> Manifest:
        """Parse a stored manifest; raise BackupError if it is not one (or not for `backup_id`)."""
        try:
            manifest = cls.model_validate_json(data)
        except ValidationError as exc:
            raise BackupError(
                f"backup {backup_id}: manifest.json is not a valid manifest ({exc.error_count()} errors)"
            ) from None
        if manifest.format_version != FORMAT_VERSION:
            raise BackupError(f"backup {backup_id}: unsupported manifest format {manifest.format_version}")
        if manifest.backup_id != backup_id:
            raise BackupError(
                f"backup {backup_id}: manifest.json names another backup ({manifest.backup_id})"
            )
        return manifest


def check_name(name: str) -> None:
    """Raise BackupError unless `name` can be part of a backup id (letters, digits, `_ . -`)."""
    if not _NAME.match(name) or len(name) > 100:
        raise BackupError(f"backup name {name!r} is not valid: use letters, digits, '_', '.' and '-'")


def new_backup_id(name: str, now: datetime) -> str:
    """A fresh, sortable backup id: `<name>-<UTC yyyymmddThhmmssZ>-<4 hex>`."""
    check_name(name)
    return f"{name}-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def is_backup_id(text: str) -> bool:
    """True if `text` has the shape of a backup id."""
    match = _ID.match(text)
    return match is not None and _NAME.match(match["name"]) is not None


def data_object_name(encrypted: bool) -> str:
    """`data.zst.age` for an encrypted backup, `data.zst` otherwise."""
    return "data.zst.age" if encrypted else "data.zst"


def manifest_key(backup_id: str) -> str:
    """The store key of a backup's manifest."""
    return f"{backup_id}/{MANIFEST_NAME}"


def load_manifest(store: Store, backup_id: str) -> Manifest:
    """Read and parse a backup's manifest; BackupError if the backup does not exist or the file is bad."""
    if not is_backup_id(backup_id):
        raise BackupError(f"{backup_id!r} is not a backup id")
    if store.stat(manifest_key(backup_id)) is None:
        raise BackupError(f"backup {backup_id} does not exist in storage {store.name} (no manifest)")
    data = b"".join(store.get_stream(manifest_key(backup_id)))
    return Manifest.from_json(data, backup_id)


def tool_versions() -> dict[str, str]:
    """Versions of the tools that wrote a backup."""

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "unknown"

    return {
        "tiation": version("tiation"),
        "zstandard": zstandard.__version__,
        "zstd": ".".join(str(p) for p in zstandard.ZSTD_VERSION),
        "pyrage": version("pyrage"),
    }
