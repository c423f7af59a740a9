"""The backup pipeline against a real directory store: no lock-in (the age and zstd CLIs restore a backup),
a writer killed mid-stream leaves nothing listed, and memory stays bounded for a large backup."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.backup_kit import TextSource, age_keypair
from tiation.backup.pipeline import run_backup
from tiation.backup.stores.dir import DirStore
from tiation.backup.verify import list_backups, restore_stream, verify_backup
from tiation.clock import SystemClock
from tiation.errors import IntegrityError

pytestmark = pytest.mark.integration

MB = 1 << 20
TESTS = Path(__file__).resolve().parents[2]
SRC = TESTS.parent / "src"


def _child(script: str, *args: str) -> subprocess.Popen[bytes]:
    """A Python child with the tests and src directories importable."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(SRC)])}
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_age_and_zstd_clis_restore_a_backup(tmp_path: Path) -> None:
    identity, recipient = age_keypair()
    _, other_recipient = age_keypair()
    keyfile = tmp_path / "key.txt"
    keyfile.write_text(identity + "\n")
    keyfile.chmod(0o600)
    store = DirStore(tmp_path / "store")
    source = TextSource(5 * MB + 7, seed=42)
    manifest = run_backup(
        source, store, name="orders", recipients=[other_recipient, recipient], clock=SystemClock()
    )
    data = tmp_path / "store" / manifest.backup_id / "data.zst.age"
    assert data.is_file()

    age = subprocess.Popen(["age", "-d", "-i", str(keyfile), str(data)], stdout=subprocess.PIPE)
    assert age.stdout is not None
    zstd = subprocess.run(["zstd", "-d", "-c"], stdin=age.stdout, capture_output=True, check=True)
    age.stdout.close()
    assert age.wait() == 0
    assert len(zstd.stdout) == source.size
    assert hashlib.sha256(zstd.stdout).hexdigest() == source.expected_sha256()
    assert manifest.source_sha256 is None  # the zstd frame's content checksum guards the source bytes
    assert hashlib.sha256(data.read_bytes()).hexdigest() == manifest.stored_sha256


def test_zstd_cli_restores_an_unencrypted_backup(tmp_path: Path) -> None:
    store = DirStore(tmp_path / "store")
    source = TextSource(2 * MB, seed=7)
    manifest = run_backup(source, store, name="plain", recipients=[], clock=SystemClock())
    data = tmp_path / "store" / manifest.backup_id / "data.zst"
    out = subprocess.run(["zstd", "-d", "-c", str(data)], capture_output=True, check=True).stdout
    assert hashlib.sha256(out).hexdigest() == source.expected_sha256()


def test_pipeline_output_decrypts_backup_made_by_the_clis(tmp_path: Path) -> None:
    """restore_stream reads back exactly what run_backup wrote, and verify agrees."""
    identity, recipient = age_keypair()
    store = DirStore(tmp_path / "store")
    manifest = run_backup(TextSource(MB), store, name="x", recipients=[recipient], clock=SystemClock())
    restored = b"".join(restore_stream(store, manifest.backup_id, [identity]))
    assert hashlib.sha256(restored).hexdigest() == TextSource(MB).expected_sha256()
    verify_backup(store, manifest.backup_id)


_SLOW_BACKUP = """
import sys
from pathlib import Path
from fixtures.backup_kit import TextSource
from tiation.backup.pipeline import run_backup
from tiation.backup.stores.dir import DirStore
from tiation.clock import SystemClock
from tiation.errors import IntegrityError
run_backup(TextSource(512 << 20, delay=0.05), DirStore(Path(sys.argv[1])), name="slow",
           recipients=[sys.argv[2]], clock=SystemClock(), threads=0)
"""


def test_a_killed_writer_leaves_nothing_listed(tmp_path: Path) -> None:
    root = tmp_path / "store"
    identity, recipient = age_keypair()
    child = _child(_SLOW_BACKUP, str(root), recipient)
    try:
        deadline = time.monotonic() + 60
        temps: list[Path] = []
        while time.monotonic() < deadline:
            temps = [p for p in root.rglob(".tmp-*") if p.stat().st_size > 0] if root.exists() else []
            if temps:
                break
            assert child.poll() is None, child.communicate()
            time.sleep(0.05)
        assert temps, "the writer never started writing"
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    assert child.returncode == -signal.SIGKILL

    store = DirStore(root)
    assert list_backups(store) == []
    assert store.list() == []
    assert store.cleanup() == 1
    assert list(root.rglob("*")) == []  # the temp file and its backup directory are gone

    manifest = run_backup(TextSource(MB), store, name="slow", recipients=[recipient], clock=SystemClock())
    assert [m.backup_id for m in list_backups(store)] == [manifest.backup_id]
    restored = b"".join(restore_stream(store, manifest.backup_id, [identity]))
    assert hashlib.sha256(restored).hexdigest() == TextSource(MB).expected_sha256()


_BIG_BACKUP = """
import hashlib, json, sys, time
from pathlib import Path
from fixtures.backup_kit import TextSource
from tiation.backup.pipeline import run_backup
from tiation.backup.stores.dir import DirStore
from tiation.backup.verify import restore_stream
from tiation.clock import SystemClock
from tiation.errors import IntegrityError
size, identity, recipient = int(sys.argv[2]), sys.argv[3], sys.argv[4]
def peak_kib():
    # VmHWM: the peak of this process's own memory. ru_maxrss would also count the parent's resident memory
    # at fork time (Linux carries the pre-exec high-water mark into it), i.e. the size of the test runner.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise SystemExit("no VmHWM in /proc/self/status")
store = DirStore(Path(sys.argv[1]))
started = time.monotonic()
manifest = run_backup(TextSource(size, seed=3), store, name="big", recipients=[recipient], clock=SystemClock())
backup_rss = peak_kib()
backup_seconds = time.monotonic() - started
started = time.monotonic()
sha = hashlib.sha256()
for chunk in restore_stream(store, manifest.backup_id, [identity]):
    sha.update(chunk)
print(json.dumps({"backup_rss_kib": backup_rss, "backup_seconds": backup_seconds,
                  "rss_kib": peak_kib(),
                  "restore_seconds": time.monotonic() - started, "restored_sha256": sha.hexdigest(),
                  "manifest": json.loads(manifest.to_json())}))
"""


def test_memory_stays_bounded_for_a_200_mb_backup_and_restore(tmp_path: Path) -> None:
    size = 200 * MB
    identity, recipient = age_keypair()
    child = _child(_BIG_BACKUP, str(tmp_path / "store"), str(size), identity, recipient)
    out, err = child.communicate(timeout=240)
    assert child.returncode == 0, err.decode()
    report = json.loads(out)
    manifest = report["manifest"]
    assert manifest["sizes"]["source_bytes"] == size
    assert report["restored_sha256"] == TextSource(size, seed=3).expected_sha256()
    backup_mb, peak_mb = report["backup_rss_kib"] / 1024, report["rss_kib"] / 1024
    print(
        f"\n200 MB backup: {size / MB / report['backup_seconds']:.1f} MB/s, peak RSS {backup_mb:.1f} MB; "
        f"restore {size / MB / report['restore_seconds']:.1f} MB/s, peak RSS {peak_mb:.1f} MB; "
        f"timings {manifest['timings']}, stored {manifest['sizes']['stored_bytes'] / MB:.1f} MB"
    )
    assert backup_mb < 150, f"peak RSS of the backup {backup_mb:.1f} MB"
    assert peak_mb < 150, f"peak RSS of backup + restore {peak_mb:.1f} MB"


def test_zstd_content_checksum_catches_a_flip_the_stored_checksum_cannot_see(tmp_path: Path) -> None:
    """Even if the stored object and its manifest checksum were both altered, the frame's checksum fails."""
    store = DirStore(tmp_path / "store")
    manifest = run_backup(TextSource(MB, seed=5), store, name="plain", recipients=[], clock=SystemClock())
    data = tmp_path / "store" / manifest.backup_id / "data.zst"
    raw = bytearray(data.read_bytes())
    raw[-4] ^= 0x01  # the last 4 bytes of the frame are its content checksum (XXH64, low half)
    data.write_bytes(bytes(raw))
    doctored = manifest.model_copy(update={"stored_sha256": hashlib.sha256(raw).hexdigest()})
    (tmp_path / "store" / manifest.manifest_key).write_bytes(doctored.to_json())
    with pytest.raises(IntegrityError, match="does not decompress"):
        b"".join(restore_stream(store, manifest.backup_id, []))
