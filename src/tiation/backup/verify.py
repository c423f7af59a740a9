"""Verify, restore and list backups.

`verify_backup` re-reads a stored object and checks its size and sha256 against the manifest.
`restore_stream` decrypts (age identities) and decompresses back to the source bytes, checking as it streams;
at the end it checks the stored bytes' size and sha256 and the source stream's sha256, and raises
IntegrityError if any differs, so a caller must treat the restored bytes as usable only once the iterator is
exhausted without an error (write them to a temporary place first).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

import pyrage  # type: ignore[import-untyped]
import zstandard

from tiation.backup.manifest import MANIFEST_NAME, Manifest, is_backup_id, load_manifest
from tiation.backup.pipeline import READ_SIZE, one_line
from tiation.backup.stores.base import Store
from tiation.backup.streams import IterReader, Pipe, start_producer
from tiation.clock import SystemClock
from tiation.errors import BackupError, IntegrityError

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifyResult:
    """A backup whose stored object matched its manifest."""

    backup_id: str
    data_key: str
    stored_bytes: int
    stored_sha256: str


def verify_backup(store: Store, backup_id: str) -> VerifyResult:
    """Re-read the stored object and compare size and sha256 with the manifest; IntegrityError if they differ."""
    manifest = load_manifest(store, backup_id)
    obj = manifest.data_object
    if store.stat(manifest.data_key) is None:
        raise IntegrityError(f"backup {backup_id} failed verify: {obj} is missing from storage {store.name}")
    sha = hashlib.sha256()
    size = 0
    chunks = store.get_stream(manifest.data_key)
    try:
        for chunk in chunks:
            sha.update(chunk)
            size += len(chunk)
    finally:
        _close(chunks)
    _check_stored(manifest, size, sha.hexdigest(), "verify")
    return VerifyResult(backup_id, manifest.data_key, size, sha.hexdigest())


def list_backups(store: Store) -> list[Manifest]:
    """Backups whose manifest exists, newest first (an unreadable manifest is logged and skipped)."""
    found: list[Manifest] = []
    for stat in store.list():
        backup_id, _, leaf = stat.key.partition("/")
        if leaf != MANIFEST_NAME or not is_backup_id(backup_id):
            continue
        try:
            found.append(load_manifest(store, backup_id))
        except BackupError as exc:
            _log.warning("skipping backup %s: %s", backup_id, exc)
    return sorted(found, key=lambda m: (m.started_at, m.backup_id), reverse=True)


def parse_identities(backup_id: str, identities: Sequence[str]) -> list[Any]:
    """pyrage x25519 identities from `AGE-SECRET-KEY-1…` strings (the message never shows a key)."""
    parsed: list[Any] = []
    for number, text in enumerate(identities, start=1):
        try:
            parsed.append(pyrage.x25519.Identity.from_str(text.strip()))
        except Exception:
            raise BackupError(
                f"backup {backup_id} failed at restore: identity #{number} is not an age secret key "
                "(AGE-SECRET-KEY-1…)"
            ) from None
    return parsed


def restore_stream(store: Store, backup_id: str, identities: Sequence[str]) -> Iterator[bytes]:
    """The backup's original source bytes, decrypted and decompressed, checked against the manifest.

    Raises BackupError at once if the backup does not exist or no identity matches its recipients; raises
    IntegrityError while (or at the end of) iterating if the stored data does not match the manifest.
    """
    manifest = load_manifest(store, backup_id)
    parsed: list[Any] = []
    if manifest.encryption.scheme == "age":
        parsed = parse_identities(backup_id, identities)
        publics = {str(identity.to_public()) for identity in parsed}
        if not publics & set(manifest.encryption.recipients):
            raise BackupError(
                f"backup {backup_id} failed at restore: no identity matches the backup's recipients"
            )
    if store.stat(manifest.data_key) is None:
        raise IntegrityError(
            f"backup {backup_id} failed at restore: {manifest.data_object} is missing from storage {store.name}"
        )
    return _restore(store, manifest, parsed)


class _Counted:
    """The stored object's chunks, hashed and counted as they pass."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.raw = chunks
        self.sha = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        chunk = next(self.raw)
        self.sha.update(chunk)
        self.size += len(chunk)
        return chunk

    def drain(self) -> None:
        """Read (and hash) the rest of the object."""
        for _ in self:
            pass


def _restore(store: Store, manifest: Manifest, identities: list[Any]) -> Iterator[bytes]:
    backup_id, obj = manifest.backup_id, manifest.data_object
    clock = SystemClock()
    stored = _Counted(store.get_stream(manifest.data_key))
    pipe: Pipe | None = None
    thread = None
    compressed: Iterator[bytes] = stored
    if identities:
        pipe = Pipe(clock)
        ciphertext = IterReader(stored, clock)

        def work() -> None:
            try:
                pyrage.decrypt_io(ciphertext, pipe, identities)
            except Exception as exc:
                if ciphertext.failure is not None:
                    raise ciphertext.failure from None
                raise IntegrityError(
                    f"backup {backup_id} failed at restore: {obj} does not decrypt ({one_line(str(exc))})"
                ) from None

        thread = start_producer(pipe, work, f"tiation-decrypt-{backup_id}")
        compressed = pipe.chunks()
    source_sha = hashlib.sha256() if manifest.source_sha256 else None
    source_bytes = 0
    try:
        try:
            dctx = zstandard.ZstdDecompressor()
            zstd_input = cast(IO[bytes], IterReader(compressed, clock))
            for out in dctx.read_to_iter(zstd_input, read_size=1 << 16, write_size=READ_SIZE):
                if source_sha is not None:
                    source_sha.update(out)
                source_bytes += len(out)
                yield out
            for _ in compressed:  # bytes after the zstd frame (none, unless the object was altered)
                pass
        except (BackupError, zstandard.ZstdError) as exc:
            _stop(pipe, thread)
            stored.drain()  # a damaged object is reported as such, not as the symptom it caused
            _check_stored(manifest, stored.size, stored.sha.hexdigest(), "restore")
            if isinstance(exc, BackupError):
                raise
            raise IntegrityError(
                f"backup {backup_id} failed at restore: {obj} does not decompress ({one_line(str(exc))})"
            ) from None
        _stop(pipe, thread)
        stored.drain()
    finally:
        _stop(pipe, thread)  # before closing the object: the decryption thread may be reading it
        _close(stored.raw)
    _check_stored(manifest, stored.size, stored.sha.hexdigest(), "restore")
    # zstd checked the frame's content checksum while decompressing; early manifests also carry a SHA-256
    if source_bytes != manifest.sizes.source_bytes or (
        source_sha is not None and source_sha.hexdigest() != manifest.source_sha256
    ):
        raise IntegrityError(
            f"backup {backup_id} failed at restore: the restored source stream differs from the manifest"
        )


def _check_stored(manifest: Manifest, size: int, sha256: str, stage: str) -> None:
    where = f"backup {manifest.backup_id} failed at {stage}"
    if size != manifest.sizes.stored_bytes:
        raise IntegrityError(
            f"{where}: size of {manifest.data_object} differs from the manifest "
            f"({size} bytes, manifest says {manifest.sizes.stored_bytes})"
        )
    if sha256 != manifest.stored_sha256:
        raise IntegrityError(f"{where}: sha256 of {manifest.data_object} differs from the manifest")


def _stop(pipe: Pipe | None, thread: Any) -> None:
    if pipe is not None:
        pipe.cancel()
    if thread is not None:
        thread.join()


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
