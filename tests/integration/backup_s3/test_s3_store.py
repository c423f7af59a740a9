"""S3Store against a real SeaweedFS: round trips, listing, faults mid-upload, one-line errors, no leaked keys."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fixtures.backup_kit import orphan_scenario
from fixtures.common import free_port
from fixtures.seaweedfs import SeaweedFS
from tiation.backup.stores.s3 import MIB, S3Store
from tiation.errors import BackupError
from tiation.secrets import SecretRef

pytestmark = pytest.mark.integration


def make_store(server: SeaweedFS, bucket: str, **kw: object) -> S3Store:
    opts: dict[str, object] = {
        "bucket": bucket,
        "prefix": "backups/app",
        "endpoint_url": server.endpoint_url,
        "access_key": server.access_key,
        "secret_key": server.secret_key,
        "part_size": 5 * MIB,
        "retries": 2,
        "connect_timeout": 2.0,
        **kw,
    }
    return S3Store("offsite", **opts)  # type: ignore[arg-type]


def pieces(data: bytes, size: int = MIB) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def pending_uploads(server: SeaweedFS, bucket: str) -> list[str]:
    return [u["Key"] for u in server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def assert_one_clean_line(err: BackupError, server: SeaweedFS, *planted: str) -> str:
    text = str(err)
    assert "\n" not in text
    for secret in (server.access_key, server.secret_key, *planted):
        assert secret not in text
        assert secret not in repr(err)
    return text


def test_multipart_round_trip(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    store = make_store(seaweedfs, s3_bucket)
    data = os.urandom(20 * MIB + 12345)
    st = store.put_stream("db/2024-01-01.dump", pieces(data))
    assert (st.key, st.size) == ("db/2024-01-01.dump", len(data))
    raw = seaweedfs.client().head_object(Bucket=s3_bucket, Key="backups/app/db/2024-01-01.dump")
    assert raw["ContentLength"] == len(data)
    assert raw["ETag"].strip('"').endswith("-5")  # four 5 MiB parts and the rest: a multipart upload

    assert store.stat("db/2024-01-01.dump") == st
    assert [s.key for s in store.list()] == ["db/2024-01-01.dump"]
    assert [s.key for s in store.list("db/")] == ["db/2024-01-01.dump"]
    assert store.list("other/") == []
    got = hashlib.sha256()
    for chunk in store.get_stream("db/2024-01-01.dump", chunk_size=3 * MIB):
        assert len(chunk) <= 3 * MIB
        got.update(chunk)
    assert got.digest() == hashlib.sha256(data).digest()
    with store.open_read("db/2024-01-01.dump") as reader:
        assert reader.read(10) == data[:10]
        assert reader.read() == data[10:]
    assert pending_uploads(seaweedfs, s3_bucket) == []

    store.delete("db/2024-01-01.dump")
    store.delete("db/2024-01-01.dump")  # already gone: no error
    assert store.stat("db/2024-01-01.dump") is None
    assert store.list() == []


def test_small_and_empty_objects(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    store = make_store(seaweedfs, s3_bucket)
    assert store.put_stream("small.txt", [b"hel", b"lo"]).size == 5
    assert store.put_stream("empty", iter(())).size == 0
    assert b"".join(store.get_stream("small.txt")) == b"hello"
    assert b"".join(store.get_stream("empty")) == b""
    assert [(s.key, s.size) for s in store.list()] == [("empty", 0), ("small.txt", 5)]
    with pytest.raises(BackupError, match=r"^storage offsite: object nope does not exist$"):
        store.get_stream("nope")
    with pytest.raises(BackupError, match="invalid object key"):
        store.put_stream("../escape", [b"x"])


def test_list_paginates_and_keeps_to_its_prefix(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    store = make_store(seaweedfs, s3_bucket, list_page_size=10)
    client = seaweedfs.client()
    for i in range(35):
        client.put_object(Bucket=s3_bucket, Key=f"backups/app/k/{i:03d}", Body=b"x")
    client.put_object(Bucket=s3_bucket, Key="backups/app-old/k/000", Body=b"sibling prefix")
    keys = [s.key for s in store.list()]
    assert keys == [f"k/{i:03d}" for i in range(35)]
    assert [s.key for s in make_store(seaweedfs, s3_bucket, prefix="").list("backups/app-old/")] == [
        "backups/app-old/k/000"
    ]


def test_server_dies_mid_upload_then_cleanup_and_retry(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    store = make_store(seaweedfs, s3_bucket)
    data = os.urandom(16 * MIB)

    def dying() -> Iterator[bytes]:
        for n, chunk in enumerate(pieces(data), start=1):
            if n == 12:  # two 5 MiB parts are uploaded
                seaweedfs.stop()
            yield chunk

    try:
        with pytest.raises(BackupError) as caught:
            store.put_stream("db/full.dump", dying())
    finally:
        seaweedfs.start()
    text = assert_one_clean_line(caught.value, seaweedfs)
    assert text == f"storage offsite: cannot reach {seaweedfs.endpoint_url}: connection refused"
    assert caught.value.retryable

    assert store.list() == []
    assert store.stat("db/full.dump") is None
    assert pending_uploads(seaweedfs, s3_bucket) == ["backups/app/db/full.dump"]  # the abort could not run
    assert store.cleanup() == 0  # too young to be stale: it might be another process's upload in flight
    assert store.cleanup(older_than=timedelta(0)) == 1
    assert pending_uploads(seaweedfs, s3_bucket) == []
    assert store.cleanup() == 0

    st = store.put_stream("db/full.dump", pieces(data))
    assert st.size == len(data)
    assert b"".join(store.get_stream("db/full.dump")) == data


def test_failing_source_aborts_the_upload(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    store = make_store(seaweedfs, s3_bucket)

    def broken() -> Iterator[bytes]:
        yield from pieces(os.urandom(11 * MIB))
        raise RuntimeError("pg_dump exited with 1")

    with pytest.raises(RuntimeError, match="pg_dump"):
        store.put_stream("db/broken.dump", broken())
    assert store.list() == []
    assert pending_uploads(seaweedfs, s3_bucket) == []


def test_cleanup_spares_recent_uploads_when_asked(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    store = make_store(seaweedfs, s3_bucket)
    seaweedfs.client().create_multipart_upload(Bucket=s3_bucket, Key="backups/app/x")
    seaweedfs.client().create_multipart_upload(Bucket=s3_bucket, Key="elsewhere/y")
    assert store.cleanup(older_than=timedelta(hours=1)) == 0
    assert store.cleanup() == 0  # the default threshold (24 h) spares it too
    assert store.cleanup(older_than=timedelta(0)) == 1
    assert pending_uploads(seaweedfs, s3_bucket) == ["elsewhere/y"]


def test_seaweedfs_reports_when_an_upload_was_initiated(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    """Stale-upload cleanup relies on ListMultipartUploads' `Initiated`: SeaweedFS must report a true time."""
    before = datetime.now(UTC) - timedelta(seconds=5)
    seaweedfs.client().create_multipart_upload(Bucket=s3_bucket, Key="backups/app/x")
    uploads = seaweedfs.client().list_multipart_uploads(Bucket=s3_bucket)["Uploads"]
    assert before <= uploads[0]["Initiated"] <= datetime.now(UTC) + timedelta(seconds=5)


def test_a_backup_starting_never_aborts_another_processes_upload(
    seaweedfs: SeaweedFS, s3_bucket: str
) -> None:
    """Two backups into one bucket: the second one's start-up cleanup leaves the first one's upload alone."""
    first, second = make_store(seaweedfs, s3_bucket), make_store(seaweedfs, s3_bucket)  # two "processes"
    data = os.urandom(12 * MIB)
    cleaned: list[int] = []

    def uploading() -> Iterator[bytes]:
        for n, chunk in enumerate(pieces(data), start=1):
            if n == 8:  # one 5 MiB part is uploaded: the first backup's upload is in flight
                assert pending_uploads(seaweedfs, s3_bucket) == ["backups/app/a/data.zst"]
                cleaned.append(second.cleanup())  # the second backup starts
                second.put_stream("b/data.zst", pieces(os.urandom(6 * MIB)))
            yield chunk

    assert first.put_stream("a/data.zst", uploading()).size == len(data)
    assert cleaned == [0]
    assert b"".join(first.get_stream("a/data.zst")) == data
    assert pending_uploads(seaweedfs, s3_bucket) == []


def test_missing_bucket_is_one_line(seaweedfs: SeaweedFS, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tiation")
    store = make_store(seaweedfs, "no-such-bucket")
    for call in (
        lambda: store.put_stream("a", [b"x"]),
        lambda: store.put_stream("big", pieces(os.urandom(6 * MIB))),
        store.list,
        store.cleanup,
    ):
        with pytest.raises(BackupError) as caught:
            call()
        text = assert_one_clean_line(caught.value, seaweedfs)
        assert text == "storage offsite: bucket 'no-such-bucket' does not exist"
    assert seaweedfs.access_key not in caplog.text and seaweedfs.secret_key not in caplog.text


def test_wrong_secret_is_access_denied(
    seaweedfs: SeaweedFS, s3_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tiation")
    planted = "PLANTED-wrong-secret-0123456789abcdef"
    store = make_store(seaweedfs, s3_bucket, secret_key=planted)
    for call in (lambda: store.put_stream("a", [b"x"]), store.list, lambda: store.get_stream("a")):
        with pytest.raises(BackupError) as caught:
            call()
        text = assert_one_clean_line(caught.value, seaweedfs, planted)
        assert text == "storage offsite: access denied (check the credentials)"
    assert planted not in caplog.text and seaweedfs.access_key not in caplog.text


def test_closed_port_is_cannot_reach(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    store = make_store(seaweedfs, s3_bucket, endpoint_url=endpoint, retries=1)
    for call in (lambda: store.put_stream("a", [b"x"]), store.list, lambda: store.stat("a")):
        with pytest.raises(BackupError) as caught:
            call()
        text = assert_one_clean_line(caught.value, seaweedfs)
        assert text == f"storage offsite: cannot reach {endpoint}: connection refused"


def test_credentials_from_secret_refs(
    seaweedfs: SeaweedFS, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TIATION_TEST_S3_ACCESS", seaweedfs.access_key)
    (tmp_path / "sk").write_text(seaweedfs.secret_key + "\n")
    store = make_store(
        seaweedfs,
        s3_bucket,
        access_key=SecretRef("env:TIATION_TEST_S3_ACCESS"),
        secret_key=SecretRef(f"file:{tmp_path / 'sk'}"),
    )
    assert seaweedfs.secret_key not in repr(store)
    assert store.put_stream("via-refs", [b"ok"]).size == 2
    assert [s.key for s in store.list()] == ["via-refs"]


def test_import_does_not_load_boto3() -> None:
    code = "import sys, tiation.backup.stores.s3; assert 'boto3' not in sys.modules and 'botocore' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


_MEMORY_PROBE = textwrap.dedent(
    """
    import os
    from tiation.backup.stores.s3 import MIB, S3Store
    from tiation.secrets import SecretRef

    def rss_mib():
        with open("/proc/self/statm") as f:  # resident pages now
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // MIB

    store = S3Store("offsite", bucket=os.environ["BUCKET"], endpoint_url=os.environ["ENDPOINT"],
                    access_key=SecretRef("env:AK"), secret_key=SecretRef("env:SK"), part_size=8 * MIB)
    store.put_stream("warm-up", [b"x"])
    before = rss_mib()
    peak = before
    chunk = os.urandom(MIB)
    def source():
        global peak
        for i in range(200):
            peak = max(peak, rss_mib())  # sampled while the upload runs, so earlier peaks do not count
            yield chunk[:-4] + i.to_bytes(4, "big")
    st = store.put_stream("big.bin", source())
    assert st.size == 200 * MIB, st
    print(max(peak, rss_mib()) - before)
    """
)


def test_upload_memory_stays_bounded(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    env = {
        **os.environ,
        "BUCKET": s3_bucket,
        "ENDPOINT": seaweedfs.endpoint_url,
        "AK": seaweedfs.access_key,
        "SK": seaweedfs.secret_key,
    }
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    growth_mb = int(out.stdout.strip())
    print(f"peak RSS growth uploading 200 MiB: {growth_mb} MB")
    assert growth_mb < 120, f"peak RSS grew by {growth_mb} MB uploading 200 MiB"
    stat = make_store(seaweedfs, s3_bucket, prefix="").stat("big.bin")
    assert stat is not None and stat.size == 200 * MIB


def test_orphans_without_a_manifest_are_removed_after_the_grace(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    orphan_scenario(make_store(seaweedfs, s3_bucket))
