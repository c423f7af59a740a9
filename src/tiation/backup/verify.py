"""Verify, restore and list backups.

`verify_backup` re-reads a stored object and checks its size and sha256 against the manifest (whose own
checksum `load_manifest` checked). `restore_stream` first reads the whole stored object once and checks its
size and SHA-256 (against the catalog's record when given, and the manifest) — two passes rather than one pass
into a staging copy: no local disk the size of the backup is needed, and the second pass hashes again, so an
object swapped between the passes is still caught (at the end; the source then removes its partial target).
It then decrypts (age identities), checks the manifest against the copy sealed inside the envelope before the
first byte comes out, and decompresses back to the source bytes; a caller must still treat the restored bytes
as usable only once the iterator is exhausted without an error.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

import pyrage  # type: ignore[import-untyped]
import zstandard

from tiation.backup import seal
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
    protected: bool = True  # False: an older-format manifest, without checksum or seal


def verify_backup(store: Store, backup_id: str, expected: Manifest | None = None) -> VerifyResult:
    """Re-read the stored object and compare size and sha256 with the manifest; IntegrityError if they differ.

    `expected` is the catalog's copy of the manifest, if it has one: the stored manifest must equal it.
    """
    manifest = _loaded(store, backup_id, expected, "verify")
    size, sha256 = _hash_object(store, manifest, "verify")
    return VerifyResult(backup_id, manifest.data_key, size, sha256, manifest.protected)


def _loaded(store: Store, backup_id: str, expected: Manifest | None, stage: str) -> Manifest:
    """The stored manifest (checksum checked), compared with the catalog's copy when there is one."""
    manifest = load_manifest(store, backup_id)
    if expected is not None and manifest != expected:
        raise IntegrityError(
            f"backup {backup_id} failed at {stage}: manifest.json differs from the catalog's copy "
            "(altered after the backup was recorded)"
        )
    return manifest


def _hash_object(store: Store, manifest: Manifest, stage: str) -> tuple[int, str]:
    """Read the whole stored object once; IntegrityError unless its size and SHA-256 match the manifest."""
    if store.stat(manifest.data_key) is None:
        raise IntegrityError(
            f"backup {manifest.backup_id} failed at {stage}: {manifest.data_object} is missing from "
            f"storage {store.name}"
        )
    sha = hashlib.sha256()
    size = 0
    chunks = store.get_stream(manifest.data_key)
    try:
        for chunk in chunks:
            sha.update(chunk)
            size += len(chunk)
    finally:
        _close(chunks)
    _check_stored(manifest, size, sha.hexdigest(), stage)
    return size, sha.hexdigest()


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


def restore_stream(
    store: Store, backup_id: str, identities: Sequence[str], expected: Manifest | None = None
) -> Iterator[bytes]:
    """The backup's original source bytes, decrypted and decompressed, checked against the manifest.

    Raises BackupError at once if the backup does not exist or no identity matches its recipients, and
    IntegrityError at once if the stored object's size or SHA-256 differ from the manifest (or the manifest
    from `expected`, the catalog's copy); raises IntegrityError on the first `next()` if the manifest does not
    match the copy sealed inside the encrypted data, and while (or at the end of) iterating if the data changed.
    """
    manifest = _loaded(store, backup_id, expected, "restore")
    parsed: list[Any] = []
    if manifest.encryption.scheme == "age":
        parsed = parse_identities(backup_id, identities)
        publics = {str(identity.to_public()) for identity in parsed}
        if not publics & set(manifest.encryption.recipients):
            raise BackupError(
                f"backup {backup_id} failed at restore: no identity matches the backup's recipients"
            )
    _hash_object(store, manifest, "restore")  # pass one: nothing reaches a target unless the object is intact
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
    pipe, thread, compressed = _decrypted(stored, manifest, identities, clock)
    if manifest.encryption.scheme == "age":
        try:
            compressed = _unsealed(compressed, manifest)
        except BaseException:
            _stop(pipe, thread)
            _close(stored.raw)
            raise
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


def _decrypted(
    stored: Iterator[bytes], manifest: Manifest, identities: list[Any], clock: SystemClock
) -> tuple[Pipe | None, Any, Iterator[bytes]]:
    """(pipe, thread, plaintext chunks): `stored` decrypted on a worker thread, or as is without identities."""
    if not identities:
        return None, None, stored
    backup_id, obj = manifest.backup_id, manifest.data_object
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

    return pipe, start_producer(pipe, work, f"tiation-decrypt-{backup_id}"), pipe.chunks()


def _unsealed(chunks: Iterator[bytes], manifest: Manifest) -> Iterator[bytes]:
    """The decrypted stream after its seal frame, once the manifest matches the seal; else IntegrityError."""
    head = b""
    while len(head) < seal.HEADER_BYTES and (piece := next(chunks, b"")):
        head += piece
    key, rest = seal.split_header(head)
    where = f"backup {manifest.backup_id} failed at restore: manifest.json"
    if key is None and manifest.protected:
        raise IntegrityError(f"{where} claims a seal, but the encrypted data holds none (altered)")
    if key is not None and manifest.seal is None:
        raise IntegrityError(f"{where} carries no seal, but the encrypted data is sealed (downgraded)")
    if key is not None and not seal.same(seal.seal_of(manifest.seal_fields(), key), str(manifest.seal)):
        raise IntegrityError(f"{where} does not match the copy sealed inside the encrypted data (altered)")
    return itertools.chain([rest] if rest else [], chunks)


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
