"""The backup manifest: what was backed up, how, and the checksums that later prove the data intact.

Layout in a store, per backup: `<backup_id>/data.zst.age` (or `data.zst` without recipients) and
`<backup_id>/manifest.json`, written last: a backup exists (is listed) only once its manifest does.
Backup ids sort by name, then time: `<name>-<UTC yyyymmddThhmmssZ>-<4 hex>`.

Format 2 manifests are tamper-evident (see `tiation.backup.seal`): a self-checksum over the canonical fields,
and for encrypted backups a seal that only an identity holder can check. Format 1 manifests (older releases)
still verify and restore, reported as "unprotected (older format)".
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Literal

import zstandard
from pydantic import BaseModel, ConfigDict, ValidationError

from tiation.backup import seal
from tiation.backup.stores.base import Store
from tiation.errors import BackupError, IntegrityError

FORMAT_VERSION = 2
OLDER_FORMAT = 1  # no checksum, no seal: still readable
CHECKSUM_FIELD = "manifest_sha256"
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
    seal: str | None = None
    """HMAC-SHA256 of the other fields under the key sealed inside the encrypted data (format 2, encrypted)."""

    @property
    def protected(self) -> bool:
        """False for older-format manifests, which carry no checksum (and no seal)."""
        return self.format_version >= FORMAT_VERSION

    def seal_fields(self) -> dict[str, Any]:
        """The fields the seal covers: all but the seal itself (the checksum is never a model field)."""
        fields = self.model_dump(mode="json")
        del fields["seal"]
        return fields

    @property
    def data_key(self) -> str:
        """The store key of the data object."""
        return f"{self.backup_id}/{self.data_object}"

    @property
    def manifest_key(self) -> str:
        """The store key of this manifest."""
        return manifest_key(self.backup_id)

    def to_json(self) -> bytes:
        """The manifest as it is stored: indented JSON, UTF-8, ending with its self-checksum (format 2)."""
        fields = self.model_dump(mode="json")
        if self.protected:
            fields[CHECKSUM_FIELD] = seal.checksum(fields)
        return seal.render(fields)

    @classmethod
    def from_json(cls, data: bytes, backup_id: str) -> Manifest:
        """Parse a stored manifest; raise BackupError if it is not one, was altered, or is not `backup_id`'s."""
        fields = _checked_fields(data, backup_id)
        try:
            manifest = cls.model_validate(fields)
        except ValidationError as exc:
            raise BackupError(
                f"backup {backup_id}: manifest.json is not a valid manifest ({exc.error_count()} errors)"
            ) from None
        if manifest.backup_id != backup_id:
            raise BackupError(
                f"backup {backup_id}: manifest.json names another backup ({manifest.backup_id})"
            )
        return manifest


def from_catalog(fields: dict[str, Any]) -> Manifest | None:
    """The manifest as the catalog recorded it (what storage must still hold), or None if it is not one."""
    try:
        return Manifest.model_validate(fields)
    except ValidationError:
        return None


def _checked_fields(data: bytes, backup_id: str) -> dict[str, Any]:
    """The manifest's fields, once its checksum and canonical form hold (format 2) or it is format 1."""
    altered = IntegrityError(f"backup {backup_id}: manifest.json was altered (its checksum does not match)")
    try:
        fields = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise altered from None
    if not isinstance(fields, dict):
        raise altered
    version = fields.get("format_version")
    if version == OLDER_FORMAT and CHECKSUM_FIELD not in fields and fields.get("seal") is None:
        return fields
    if version != FORMAT_VERSION:
        raise BackupError(f"backup {backup_id}: unsupported manifest format {version!r}")
    claimed = fields.pop(CHECKSUM_FIELD, None)
    if not isinstance(claimed, str) or not seal.same(seal.checksum(fields), claimed):
        raise altered
    if seal.render({**fields, CHECKSUM_FIELD: claimed}) != data:  # e.g. "Z" -> "z", same value, other bytes
        raise altered
    return fields


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
