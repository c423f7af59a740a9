"""The backup pipeline, verify and restore against the memory store, with the real zstd and age libraries."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest

from fixtures.backup_kit import TextSource, age_keypair, text_bytes
from tiation.backup.manifest import Manifest, is_backup_id
from tiation.backup.pipeline import run_backup
from tiation.backup.stores.memory import MemoryStore
from tiation.backup.verify import list_backups, restore_stream, verify_backup
from tiation.clock import FakeClock
from tiation.errors import BackupError, IntegrityError

MB = 1 << 20


def _restore(store: MemoryStore, backup_id: str, identities: list[str]) -> bytes:
    return b"".join(restore_stream(store, backup_id, identities))


def _nothing_left(store: MemoryStore) -> None:
    assert store.list() == []
    assert list_backups(store) == []
    assert store.staged_count() == 0
    assert store.cleanup() == 0
    assert [t.name for t in threading.enumerate() if t.name.startswith("tiation-")] == []


@pytest.mark.parametrize("n_recipients", [0, 1, 3])
def test_round_trip(n_recipients: int, fake_clock: FakeClock) -> None:
    keys = [age_keypair() for _ in range(n_recipients)]
    store = MemoryStore()
    source = TextSource(3 * MB + 12345, seed=n_recipients)
    manifest = run_backup(source, store, name="orders-db", recipients=[k[1] for k in keys], clock=fake_clock)

    assert source.closed == 1 and not source.aborted
    assert verify_backup(store, manifest.backup_id).stored_sha256 == manifest.stored_sha256
    # every recipient's identity restores the bytes
    for identity, _ in keys or [("", "")]:
        restored = _restore(store, manifest.backup_id, [identity] if identity else [])
        assert hashlib.sha256(restored).hexdigest() == source.expected_sha256()
    assert [m.backup_id for m in list_backups(store)] == [manifest.backup_id]


def test_manifest_contents(fake_clock: FakeClock) -> None:
    _, recipient = age_keypair()
    store = MemoryStore()
    manifest = run_backup(
        TextSource(2 * MB),
        store,
        name="app",
        recipients=[f"  {recipient}\n"],
        clock=fake_clock,
        level=5,
        threads=1,
    )
    assert is_backup_id(manifest.backup_id)
    assert manifest.backup_id.startswith("app-20260101T000000Z-")
    assert manifest.name == "app" and manifest.data_object == "data.zst.age"
    assert manifest.started_at == fake_clock.now() == manifest.finished_at
    assert manifest.source == {"kind": "files", "format": "text", "details": {"size": 2 * MB, "seed": 0}}
    assert manifest.sizes.source_bytes == 2 * MB
    assert 0 < manifest.sizes.compressed_bytes < manifest.sizes.source_bytes < 3 * MB
    assert manifest.sizes.stored_bytes > manifest.sizes.compressed_bytes  # age header and tags
    assert (manifest.compression.level, manifest.compression.threads) == (5, 1)
    assert manifest.encryption.scheme == "age" and manifest.encryption.recipients == (recipient,)
    assert set(manifest.tool_versions) >= {"tiation", "zstandard", "pyrage"}
    assert manifest.timings.total == 0.0  # the fake clock does not move
    stored = b"".join(store.get_stream(f"{manifest.backup_id}/manifest.json"))
    assert json.loads(stored)["stored_sha256"] == manifest.stored_sha256
    assert Manifest.from_json(stored, manifest.backup_id) == manifest
    data = b"".join(store.get_stream(manifest.data_key))
    assert data.startswith(b"age-encryption.org/v1\n")
    assert hashlib.sha256(data).hexdigest() == manifest.stored_sha256


def test_without_recipients_the_object_is_plain_zstd(fake_clock: FakeClock) -> None:
    store = MemoryStore()
    manifest = run_backup(TextSource(MB), store, name="app", recipients=[], clock=fake_clock)
    assert manifest.data_key.endswith("/data.zst") and manifest.encryption.scheme == "none"
    assert b"".join(store.get_stream(manifest.data_key)).startswith(b"\x28\xb5\x2f\xfd")  # zstd magic


def test_empty_source(fake_clock: FakeClock) -> None:
    identity, recipient = age_keypair()
    store = MemoryStore()
    manifest = run_backup(TextSource(0), store, name="empty", recipients=[recipient], clock=fake_clock)
    assert manifest.sizes.source_bytes == 0
    verify_backup(store, manifest.backup_id)
    assert _restore(store, manifest.backup_id, [identity]) == b""


def test_progress_reports_source_bytes_on_the_calling_thread(fake_clock: FakeClock) -> None:
    seen: list[int] = []
    _, recipient = age_keypair()
    run_backup(
        TextSource(4 * MB),
        MemoryStore(),
        name="p",
        recipients=[recipient],
        clock=fake_clock,
        progress=seen.append,
    )
    assert seen == sorted(seen) and seen[-1] == 4 * MB


def test_list_backups_newest_first(fake_clock: FakeClock) -> None:
    store = MemoryStore()
    ids = []
    for _ in range(3):
        ids.append(run_backup(TextSource(1000), store, name="db", recipients=[], clock=fake_clock).backup_id)
        fake_clock.advance(3600)
    store.put_stream("db-20990101T000000Z-abcd/data.zst", [b"no manifest: not a backup"])
    store.put_stream("stray.txt", [b"not a backup either"])
    store.put_stream("db-20990101T000000Z-beef/manifest.json", [b"{not json"])  # unreadable: skipped
    assert [m.backup_id for m in list_backups(store)] == ids[::-1]


@pytest.mark.parametrize("encrypted", [True, False])
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_a_flipped_byte_is_detected(where: str, encrypted: bool, fake_clock: FakeClock) -> None:
    identity, recipient = age_keypair()
    store = MemoryStore()
    manifest = run_backup(
        TextSource(MB), store, name="db", recipients=[recipient] if encrypted else [], clock=fake_clock
    )
    data = bytearray(b"".join(store.get_stream(manifest.data_key)))
    pos = {"start": 0, "middle": len(data) // 2, "end": len(data) - 1}[where]
    data[pos] ^= 0x01
    store.put_stream(manifest.data_key, [bytes(data)])

    obj = manifest.data_object
    with pytest.raises(IntegrityError) as caught:
        verify_backup(store, manifest.backup_id)
    assert (
        str(caught.value)
        == f"backup {manifest.backup_id} failed at verify: sha256 of {obj} differs from the manifest"
    )
    with pytest.raises(IntegrityError) as caught:
        _restore(store, manifest.backup_id, [identity])
    assert (
        str(caught.value)
        == f"backup {manifest.backup_id} failed at restore: sha256 of {obj} differs from the manifest"
    )


def test_a_truncated_object_is_detected(fake_clock: FakeClock) -> None:
    store = MemoryStore()
    manifest = run_backup(TextSource(MB), store, name="db", recipients=[], clock=fake_clock)
    data = b"".join(store.get_stream(manifest.data_key))
    store.put_stream(manifest.data_key, [data[:-10]])
    with pytest.raises(
        IntegrityError, match=f"backup {manifest.backup_id} failed at verify: size of data.zst differs"
    ):
        verify_backup(store, manifest.backup_id)
    store.delete(manifest.data_key)
    with pytest.raises(IntegrityError, match=r"data\.zst is missing"):
        verify_backup(store, manifest.backup_id)


def test_source_failing_at_close_stores_nothing(fake_clock: FakeClock) -> None:
    store = MemoryStore()
    source = TextSource(2 * MB, fail_at_close=True)
    _, recipient = age_keypair()
    with pytest.raises(BackupError) as caught:
        run_backup(source, store, name="pg", recipients=[recipient], clock=fake_clock)
    message = str(caught.value)
    assert message.startswith("backup pg-20260101T000000Z-") and "failed at source close: " in message
    assert "exited with status 1" in message and "\n" not in message
    assert source.aborted
    _nothing_left(store)


@pytest.mark.parametrize("encrypted", [True, False])
def test_source_failing_mid_read_stores_nothing(encrypted: bool, fake_clock: FakeClock) -> None:
    store = MemoryStore()
    source = TextSource(8 * MB, fail_after=3 * MB)
    _, recipient = age_keypair()
    with pytest.raises(BackupError, match=r"^backup pg-\S+ failed at read: source files failed: read error"):
        run_backup(source, store, name="pg", recipients=[recipient] if encrypted else [], clock=fake_clock)
    assert source.aborted
    _nothing_left(store)


@pytest.mark.parametrize("encrypted", [True, False])
def test_store_failing_midway_stores_nothing(encrypted: bool, fake_clock: FakeClock) -> None:
    store = MemoryStore("mem")
    store.fail_next_put(after_bytes=MB)
    source = TextSource(6 * MB)
    _, recipient = age_keypair()
    with pytest.raises(BackupError) as caught:
        run_backup(source, store, name="pg", recipients=[recipient] if encrypted else [], clock=fake_clock)
    backup_id = str(caught.value).split()[1]
    obj = "data.zst.age" if encrypted else "data.zst"
    assert str(caught.value) == (
        f"backup {backup_id} failed at store: storage mem is full while writing {backup_id}/{obj}"
    )
    assert source.aborted
    _nothing_left(store)


def test_manifest_write_failing_removes_the_data(fake_clock: FakeClock) -> None:
    class FailingManifestStore(MemoryStore):
        def put_stream(self, key: str, chunks):  # type: ignore[no-untyped-def]
            if key.endswith("manifest.json"):
                self.fail_next_put(after_bytes=0)
            return super().put_stream(key, chunks)

    store = FailingManifestStore()
    with pytest.raises(BackupError, match=r"failed at manifest: storage memory is full"):
        run_backup(TextSource(MB), store, name="pg", recipients=[], clock=fake_clock)
    _nothing_left(store)


@pytest.mark.parametrize(
    ("recipient", "shown"),
    [
        ("age1notreally", "'age1notreally'"),
        ("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "'ssh-dss AAAAB3Nz…'"),
        ("", "''"),
        ("AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ", "an age secret key"),
    ],
)
def test_bad_recipient_fails_before_reading(recipient: str, shown: str, fake_clock: FakeClock) -> None:
    store = MemoryStore()
    source = TextSource(MB)
    _, good = age_keypair()
    with pytest.raises(BackupError) as caught:
        run_backup(source, store, name="pg", recipients=[good, recipient], clock=fake_clock)
    message = str(caught.value)
    assert "failed at encryption setup: unknown recipient format: " + shown in message
    assert "SECRET-KEY-1QQ" not in message
    assert source.opened == 0
    _nothing_left(store)


@pytest.mark.parametrize(("level", "threads"), [(0, 2), (23, 2), (3, -1)])
def test_bad_compression_settings_are_refused(level: int, threads: int, fake_clock: FakeClock) -> None:
    source = TextSource(1)
    with pytest.raises(BackupError, match=r"failed at compression setup: need level 1\.\.22, threads >= 0$"):
        run_backup(
            source, MemoryStore(), name="x", recipients=[], clock=fake_clock, level=level, threads=threads
        )
    assert source.opened == 0


def test_bad_name_is_refused(fake_clock: FakeClock) -> None:
    with pytest.raises(BackupError, match=r"backup name 'a/b' is not valid"):
        run_backup(TextSource(1), MemoryStore(), name="a/b", recipients=[], clock=fake_clock)


def test_wrong_identity_on_restore(fake_clock: FakeClock) -> None:
    _, recipient = age_keypair()
    other, _ = age_keypair()
    store = MemoryStore()
    manifest = run_backup(TextSource(MB), store, name="pg", recipients=[recipient], clock=fake_clock)
    with pytest.raises(BackupError) as caught:
        restore_stream(store, manifest.backup_id, [other])
    assert (
        str(caught.value)
        == f"backup {manifest.backup_id} failed at restore: no identity matches the backup's recipients"
    )
    assert not isinstance(caught.value, IntegrityError)
    with pytest.raises(BackupError, match=r"identity #1 is not an age secret key") as bad:
        restore_stream(store, manifest.backup_id, ["AGE-SECRET-KEY-1NOTAKEY"])
    assert "NOTAKEY" not in str(bad.value)


def test_restore_of_a_missing_backup(fake_clock: FakeClock) -> None:
    with pytest.raises(BackupError, match=r"backup db-20260101T000000Z-abcd does not exist"):
        restore_stream(MemoryStore(), "db-20260101T000000Z-abcd", [])
    with pytest.raises(BackupError, match=r"is not a backup id"):
        verify_backup(MemoryStore(), "../etc")


def test_restore_can_be_abandoned_midway(fake_clock: FakeClock) -> None:
    identity, recipient = age_keypair()
    store = MemoryStore()
    manifest = run_backup(TextSource(4 * MB), store, name="pg", recipients=[recipient], clock=fake_clock)
    chunks = restore_stream(store, manifest.backup_id, [identity])
    first = next(chunks)
    assert first == text_bytes(len(first))
    chunks.close()  # type: ignore[attr-defined]  # stops the decryption thread
    assert [t.name for t in threading.enumerate() if t.name.startswith("tiation-")] == []
