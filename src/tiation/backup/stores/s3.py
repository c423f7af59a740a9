"""An S3 (or S3-compatible: SeaweedFS, MinIO, Ceph …) bucket as a backup store, over boto3.

Writes stream: `put_stream` buffers one part at a time and sends a multipart upload (a single PutObject when the
whole object is smaller than one part), so memory stays near one part whatever the object size. An object exists
only once CompleteMultipartUpload succeeds; on any failure the upload is aborted, and `cleanup()` aborts uploads
that a killed process (or a failed abort) left behind once they are stale (initiated over 24 h ago by default),
never another process's upload in flight. Every call goes through botocore's "standard" retry mode
(exponential backoff on throttling, 5xx and connection errors); errors become one-line `BackupError`s.

boto3 is imported on first use only: the CLI must start fast. Credentials (plain or `SecretRef`) are revealed
when the client is created, registered for redaction, and never put in a message or a log record.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO

from tiation.backup.stores.base import ObjectStat
from tiation.errors import BackupError
from tiation.redact import redact, register_secret
from tiation.secrets import SecretRef

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)

MIB = 1 << 20
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every part but the last
MAX_PARTS = 10_000  # S3's maximum number of parts
_PARTS_PER_SIZE_STEP = 2_000  # the part size doubles every this many parts, so huge objects still fit

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_NO_BUCKET = {"NoSuchBucket"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}
_RETRYABLE = {"500", "502", "503", "504", "InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout"}


class S3Store:
    """Backup objects in `bucket`, under `prefix` (keys are joined as `prefix/key`)."""

    def __init__(
        self,
        name: str,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key: str | SecretRef | None = None,
        secret_key: str | SecretRef | None = None,
        part_size: int = 8 * MIB,
        retries: int = 5,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        list_page_size: int = 1000,
        abort_uploads_after: timedelta = timedelta(hours=24),
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(
                f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum), got {part_size}"
            )
        if retries < 1:
            raise ValueError(f"retries is the number of attempts per request (>= 1), got {retries}")
        if (access_key is None) != (secret_key is None):
            raise ValueError("give both access_key and secret_key, or neither (boto3's default chain)")
        self.name = name
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.region = region
        self.part_size = part_size
        self.retries = retries
        self.list_page_size = list_page_size
        self.abort_uploads_after = abort_uploads_after
        self._access_key = access_key
        self._secret_key = secret_key
        self._timeouts = (connect_timeout, read_timeout)
        self._client: S3Client | None = None
        self._lock = threading.Lock()
        self._active: set[str] = set()  # upload ids of multipart uploads in flight in this process

    def __repr__(self) -> str:
        return f"S3Store({self.name!r}, bucket={self.bucket!r}, prefix={self.prefix!r})"

    @property
    def endpoint(self) -> str:
        """Where requests go, for messages (never holds credentials)."""
        return redact(self.endpoint_url or f"https://s3.{self.region}.amazonaws.com")

    def _s3(self) -> S3Client:
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> S3Client:
        import boto3
        from botocore.config import Config

        access, secret = _reveal(self._access_key), _reveal(self._secret_key)
        connect_timeout, read_timeout = self._timeouts
        config = Config(
            retries={"mode": "standard", "max_attempts": self.retries},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            # Not every S3-compatible server speaks the CRC trailers botocore sends by default since 1.36;
            # backups carry their own SHA-256 in the manifest.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path"} if self.endpoint_url else {},
        )
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            config=config,
        )

    def _key(self, key: str) -> str:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise BackupError(f"storage {self.name}: invalid object key {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _rel(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key

    def _error(self, exc: BaseException, doing: str) -> BackupError:
        """One line for a botocore error: a missing bucket, denied access, no connection, or what failed."""
        from botocore.exceptions import (
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        def flat(text: str) -> str:
            return redact(" ".join(text.split()))

        where = f"storage {self.name}"
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            if code in _NO_BUCKET:
                return BackupError(f"{where}: bucket '{self.bucket}' does not exist")
            if code in _DENIED:
                return BackupError(f"{where}: access denied (check the credentials)")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            detail = err.get("Message") or code or f"HTTP {status}"
            return BackupError(
                f"{where}: {doing} failed: {flat(f'{code}: {detail}' if code else detail)}",
                retryable=code in _RETRYABLE,
            )
        if isinstance(exc, ConnectTimeoutError):
            return BackupError(f"{where}: cannot reach {self.endpoint}: connection timed out", retryable=True)
        if isinstance(exc, EndpointConnectionError):
            return BackupError(f"{where}: cannot reach {self.endpoint}: {_reason(exc)}", retryable=True)
        if isinstance(exc, ReadTimeoutError | ConnectionClosedError):
            return BackupError(f"{where}: {doing} failed: connection lost ({_reason(exc)})", retryable=True)
        if isinstance(exc, NoCredentialsError):
            return BackupError(f"{where}: no credentials (set access_key and secret_key)")
        return BackupError(f"{where}: {doing} failed: {flat(f'{type(exc).__name__}: {exc}')}")

    def _botocore_errors(self) -> tuple[type[Exception], ...]:
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> ObjectStat:
        """Write `key` from `chunks`, one part in memory at a time; on any error nothing is left under `key`."""
        full = self._key(key)
        s3 = self._s3()
        boto_errors = self._botocore_errors()
        upload_id: str | None = None
        parts: list[CompletedPartTypeDef] = []
        buf = bytearray()
        total = 0
        try:
            for chunk in chunks:
                buf += chunk
                total += len(chunk)
                while len(buf) >= (size := self._part_size(len(parts) + 1)):
                    if upload_id is None:
                        upload_id = self._start_upload(full)
                    self._upload_part(full, upload_id, parts, bytes(memoryview(buf)[:size]))
                    del buf[:size]
            if upload_id is None:
                s3.put_object(Bucket=self.bucket, Key=full, Body=bytes(buf))
            else:
                if buf:
                    self._upload_part(full, upload_id, parts, bytes(buf))
                buf = bytearray()
                s3.complete_multipart_upload(
                    Bucket=self.bucket, Key=full, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
                self._active.discard(upload_id)
                upload_id = None
            head = s3.head_object(Bucket=self.bucket, Key=full)
        except BaseException as exc:
            if upload_id is not None:
                self._abort(full, upload_id)
            if isinstance(exc, boto_errors):
                raise self._error(exc, f"upload of {key}") from None
            raise
        if int(head["ContentLength"]) != total:
            self.delete(key)
            raise BackupError(
                f"storage {self.name}: upload of {key} failed: stored {head['ContentLength']} bytes, sent {total}"
            )
        return ObjectStat(key=key, size=total, modified=head["LastModified"])

    def _part_size(self, part_number: int) -> int:
        return self.part_size << ((part_number - 1) // _PARTS_PER_SIZE_STEP)

    def _start_upload(self, full: str) -> str:
        upload_id = self._s3().create_multipart_upload(Bucket=self.bucket, Key=full)["UploadId"]
        self._active.add(upload_id)
        return upload_id

    def _upload_part(self, full: str, upload_id: str, parts: list[CompletedPartTypeDef], data: bytes) -> None:
        number = len(parts) + 1
        if number > MAX_PARTS:
            raise BackupError(f"storage {self.name}: upload of {full} failed: more than {MAX_PARTS} parts")
        resp = self._s3().upload_part(
            Bucket=self.bucket, Key=full, UploadId=upload_id, PartNumber=number, Body=data
        )
        parts.append({"PartNumber": number, "ETag": resp["ETag"]})

    def _abort(self, full: str, upload_id: str) -> None:
        """Best effort: a failed abort leaves the upload for `cleanup()`."""
        self._active.discard(upload_id)
        try:
            self._s3().abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
        except self._botocore_errors() as exc:
            log.warning(
                "storage %s: could not abort the partial upload of %s (cleanup will): %s",
                self.name,
                full,
                self._error(exc, "abort"),
            )

    def _get_body(self, key: str) -> Any:
        full = self._key(key)
        try:
            return self._s3().get_object(Bucket=self.bucket, Key=full)["Body"]
        except self._botocore_errors() as exc:
            if _code(exc) in _NOT_FOUND:
                raise BackupError(f"storage {self.name}: object {key} does not exist") from None
            raise self._error(exc, f"download of {key}") from None

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Read `key` in chunks (streamed from the response body). Raises BackupError if it does not exist."""
        body = self._get_body(key)  # before the first next(): a missing object fails on the first read
        return self._iter_body(key, body, chunk_size)

    def _iter_body(self, key: str, body: Any, chunk_size: int) -> Iterator[bytes]:
        try:
            while chunk := body.read(chunk_size):
                yield chunk
        except self._botocore_errors() as exc:
            raise self._error(exc, f"download of {key}") from None
        finally:
            body.close()

    def open_read(self, key: str) -> BinaryIO:
        """A buffered, file-like reader of `key` streaming from the response body."""
        return io.BufferedReader(_BodyReader(self, key, self._get_body(key)), buffer_size=1 << 20)

    def list(self, prefix: str = "") -> list[ObjectStat]:
        """Complete objects under `prefix`, sorted by key (ListObjectsV2, every page)."""
        full_prefix = f"{self.prefix}/{prefix}" if self.prefix else prefix
        found: list[ObjectStat] = []
        try:
            pages = (
                self._s3()
                .get_paginator("list_objects_v2")
                .paginate(
                    Bucket=self.bucket, Prefix=full_prefix, PaginationConfig={"PageSize": self.list_page_size}
                )
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    found.append(ObjectStat(self._rel(obj["Key"]), int(obj["Size"]), obj["LastModified"]))
        except self._botocore_errors() as exc:
            raise self._error(exc, f"listing of {prefix or '/'}") from None
        return sorted(found, key=lambda s: s.key)

    def stat(self, key: str) -> ObjectStat | None:
        """The object's stat (HeadObject), or None if there is no such object."""
        try:
            head = self._s3().head_object(Bucket=self.bucket, Key=self._key(key))
        except self._botocore_errors() as exc:
            if _code(exc) in _NOT_FOUND:
                return None
            raise self._error(exc, f"stat of {key}") from None
        return ObjectStat(key=key, size=int(head["ContentLength"]), modified=head["LastModified"])

    def delete(self, key: str) -> None:
        """Delete `key` (no error if it is already gone)."""
        try:
            self._s3().delete_object(Bucket=self.bucket, Key=self._key(key))
        except self._botocore_errors() as exc:
            if _code(exc) not in _NOT_FOUND:
                raise self._error(exc, f"delete of {key}") from None

    def cleanup(self, *, older_than: timedelta | None = None) -> int:
        """Abort multipart uploads under the prefix initiated over `older_than` (default `abort_uploads_after`)
        ago, never this process's; returns how many. A younger one may be another process's backup in flight."""
        cutoff = datetime.now(UTC) - (self.abort_uploads_after if older_than is None else older_than)
        aborted = 0
        try:
            pages = (
                self._s3()
                .get_paginator("list_multipart_uploads")
                .paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else "")
            )
            stale = [
                (up["Key"], up["UploadId"])
                for page in pages
                for up in page.get("Uploads", [])
                if up["UploadId"] not in self._active and up["Initiated"] < cutoff
            ]
            for full, upload_id in stale:
                try:
                    self._s3().abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
                except self._botocore_errors() as exc:
                    if _code(exc) != "NoSuchUpload":
                        raise
                    continue
                log.info("storage %s: aborted incomplete upload of %s", self.name, full)
                aborted += 1
        except self._botocore_errors() as exc:
            raise self._error(exc, "cleanup of incomplete uploads") from None
        return aborted


def _reveal(value: str | SecretRef | None) -> str | None:
    """The credential's value (a SecretRef is resolved now), registered for redaction."""
    if value is None:
        return None
    revealed = value.reveal() if isinstance(value, SecretRef) else value
    register_secret(revealed)
    return revealed


def _code(exc: BaseException) -> str:
    """The S3 error code of a ClientError ("" for other errors)."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _reason(exc: BaseException) -> str:
    """Why a connection failed ("connection refused", "timed out" …), from the OS error under it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, TimeoutError):
            return "timed out"
        seen = seen.__cause__ or seen.__context__
    text = str(exc).lower()
    if "name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return "connection refused" if "refused" in text else "connection failed"


class _BodyReader(io.RawIOBase):
    """A raw reader over a botocore StreamingBody that turns its errors into BackupError."""

    def __init__(self, store: S3Store, key: str, body: Any) -> None:
        self._store, self._key, self._body = store, key, body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._body.read(len(view))
        except self._store._botocore_errors() as exc:
            raise self._store._error(exc, f"download of {self._key}") from None
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()
