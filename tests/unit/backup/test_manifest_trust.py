"""Manifests are tamper-evident: any byte changed is found without the identity; a re-checksummed forgery is
found with it (the seal inside the age envelope); older-format manifests still verify and restore."""

from __future__ import annotations

import hashlib
import json

import pytest

from fixtures.backup_kit import TextSource, age_keypair
from tiation.backup.manifest import Manifest, manifest_key
from tiation.backup.pipeline import run_backup
from tiation.backup.stores.memory import MemoryStore
from tiation.backup.verify import restore_stream, verify_backup
from tiation.clock import FakeClock
from tiation.errors import BackupError, IntegrityError

KB = 1 << 10


def _backup(fake_clock: FakeClock, recipients: list[str]) -> tuple[MemoryStore, Manifest, bytes]:
    store = MemoryStore()
    manifest = run_backup(
        TextSource(64 * KB, seed=7), store, name="app", recipients=recipients, clock=fake_clock
    )
    return store, manifest, b"".join(store.get_stream(manifest.manifest_key))


def _put_manifest(store: MemoryStore, manifest: Manifest, data: bytes) -> None:
    store.put_stream(manifest_key(manifest.backup_id), [data])


def test_every_single_bit_flip_is_detected_by_verify(fake_clock: FakeClock) -> None:
    _, recipient = age_keypair()
    store, manifest, stored = _backup(fake_clock, [recipient])
    assert verify_backup(store, manifest.backup_id).protected
    undetected = []
    for index in range(len(stored)):
        for bit in range(8):
            flipped = bytearray(stored)
            flipped[index] ^= 1 << bit
            try:
                Manifest.from_json(bytes(flipped), manifest.backup_id)
            except BackupError:
                continue
            undetected.append((index, bit))
    assert undetected == []
    for index in range(0, len(stored), 7):  # and through verify itself (one bit per byte, a sample of bytes)
        flipped = bytearray(stored)
        flipped[index] ^= 1 << (index % 8)
        _put_manifest(store, manifest, bytes(flipped))
        with pytest.raises(BackupError):
            verify_backup(store, manifest.backup_id)


def _forge(manifest: Manifest, **update: object) -> bytes:
    """What someone who can write storage can do: change fields and recompute the checksum."""
    return manifest.model_copy(update=update).to_json()


@pytest.mark.parametrize("field", ["recipients", "finished_at", "name", "sizes"])
def test_re_checksummed_forgery_passes_verify_but_not_a_restore(fake_clock: FakeClock, field: str) -> None:
    identity, recipient = age_keypair()
    _, other = age_keypair()
    store, manifest, _ = _backup(fake_clock, [recipient])
    changes: dict[str, object] = {
        "recipients": {
            "encryption": manifest.encryption.model_copy(update={"recipients": (recipient, other)})
        },
        "finished_at": {"finished_at": manifest.finished_at.replace(year=2030)},
        "name": {"name": "forged"},
        "sizes": {"sizes": manifest.sizes.model_copy(update={"source_bytes": 1})},
    }
    _put_manifest(store, manifest, _forge(manifest, **changes[field]))
    verify_backup(store, manifest.backup_id)  # without the identity, a consistent forgery cannot be told
    with pytest.raises(IntegrityError, match="does not match the copy sealed inside the encrypted data"):
        next(restore_stream(store, manifest.backup_id, [identity]))
    with pytest.raises(IntegrityError, match="differs from the catalog's copy"):
        verify_backup(store, manifest.backup_id, expected=manifest)  # the catalog's copy is the anchor


def test_stripping_the_seal_or_downgrading_is_detected_with_the_identity(fake_clock: FakeClock) -> None:
    identity, recipient = age_keypair()
    store, manifest, _ = _backup(fake_clock, [recipient])
    _put_manifest(store, manifest, _forge(manifest, seal=None))
    with pytest.raises(IntegrityError, match="carries no seal, but the encrypted data is sealed"):
        next(restore_stream(store, manifest.backup_id, [identity]))
    older = manifest.model_copy(update={"seal": None, "format_version": 1})
    _put_manifest(store, manifest, older.model_dump_json(indent=2).encode())
    assert not verify_backup(store, manifest.backup_id).protected
    with pytest.raises(IntegrityError, match="encrypted data is sealed"):
        next(restore_stream(store, manifest.backup_id, [identity]))


def test_older_format_manifests_still_verify_and_restore(fake_clock: FakeClock) -> None:
    store = MemoryStore()
    manifest = run_backup(TextSource(64 * KB, seed=3), store, name="app", recipients=[], clock=fake_clock)
    older = manifest.model_copy(update={"format_version": 1})
    fields = json.loads(older.model_dump_json())
    del fields["seal"]  # written by a release that knew no seal
    _put_manifest(store, manifest, json.dumps(fields, indent=2).encode())
    result = verify_backup(store, manifest.backup_id)
    assert not result.protected
    restored = b"".join(restore_stream(store, manifest.backup_id, []))
    assert hashlib.sha256(restored).hexdigest() == TextSource(64 * KB, seed=3).expected_sha256()


def test_nothing_is_decrypted_before_the_stored_object_is_checked(fake_clock: FakeClock) -> None:
    identity, recipient = age_keypair()
    store, manifest, _ = _backup(fake_clock, [recipient])
    data = bytearray(b"".join(store.get_stream(manifest.data_key)))
    data[-1] ^= 0x01
    store.put_stream(manifest.data_key, [bytes(data)])
    with pytest.raises(IntegrityError, match=r"sha256 of data\.zst\.age differs"):
        restore_stream(store, manifest.backup_id, [identity])  # at once, before any byte is produced
