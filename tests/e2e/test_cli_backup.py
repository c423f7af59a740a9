"""Backups through the real CLI: SQLite and a real PostgreSQL 15, a directory store, age keys from `age-keygen`."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

SECRET_PW = "pg-secret-pw-4d2c"


@dataclass
class Bk:
    root: Path
    env: dict[str, str]
    key: Path
    recipient: str

    def tiation(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "tiation", *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == expect, (
            f"tiation {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        )
        assert SECRET_PW not in proc.stdout + proc.stderr
        return proc

    def json(self, *args: str, expect: int = 0) -> Any:
        return json.loads(self.tiation(*args, "--json", expect=expect).stdout)


PLATFORM = """\
version: 1
project: {{name: shop}}
environments: {{dev: {{target: fake}}}}
services: {{web: {{port: 5000, tier: critical}}}}
objectives: {{tiers: {{critical: {{rto: 5m, rpo: 15m}}}}}}
storage:
  local: {{dir: {{path: backups}}}}
backups:
  app-db:
    source: {{sqlite: {{path: app.db}}}}
    storage: local
    tier: critical
    encryption: {{recipients: [{recipient}], identity: file:key.txt}}
    verify: {{tables: [pages], queries: [{{sql: "select count(*) from pages", min_rows: 100}}]}}
    retention: {{keep_last: 2, daily: 0, weekly: 0, monthly: 0, min_keep: 1, max_delete_share: 1.0}}
  pg:
    source: {{postgres: {{dsn: env:SHOP_DSN}}}}
    storage: local
    tier: critical
    encryption: {{recipients: [{recipient}], identity: file:key.txt}}
    verify: {{tables: [orders], queries: [{{sql: "select count(*) from orders", min_rows: 500}}]}}
"""


@pytest.fixture
def bk(tmp_path: Path) -> Bk:
    key = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    recipient = next(line.split(": ")[1] for line in key.read_text().splitlines() if "public key" in line)
    (tmp_path / "tiation.yaml").write_text(PLATFORM.format(recipient=recipient))
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("create table pages(id integer primary key, body text)")
        conn.executemany("insert into pages(body) values (?)", [(f"page {i} " * 30,) for i in range(3000)])
    conn.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIATION_")}
    env.update(TIATION_FILE=str(tmp_path / "tiation.yaml"), TIATION_ACTOR="ops")
    return Bk(tmp_path, env, key, recipient)


def test_sqlite_backup_verify_prune_pin_restore_drill_rebuild(bk: Bk) -> None:
    ids = [bk.json("backup", "run", "app-db")["backup_id"] for _ in range(3)]
    listed = bk.json("backup", "list", "app-db")["backups"]
    assert [b["id"] for b in listed] == ids[::-1]
    assert bk.json("backup", "verify", ids[-1])["verified"] is True
    bk.tiation("backup", "pin", ids[0])
    decision = bk.json("backup", "prune", "app-db", "--dry-run")
    assert "pinned" in decision["keep"][ids[0]]
    assert decision["delete"] == {}  # the oldest is pinned; the two newest are kept by keep_last
    bk.tiation("backup", "pin", ids[0], "--unpin")
    pruned = bk.json("backup", "prune", "app-db")
    assert list(pruned["delete"]) == [ids[0]]
    assert not (bk.root / "backups" / ids[0]).exists()

    restored = bk.json("backup", "restore", ids[-1])
    assert restored["checks"][0] == "integrity_check ok"
    assert "'select count(*) from pages' -> 3000" in restored["checks"]
    with sqlite3.connect(restored["target"]) as conn:
        assert conn.execute("select count(*) from pages").fetchone() == (3000,)
    conn.close()

    deep = bk.json("backup", "verify", ids[-1], "--restore")
    assert deep["verified"] is True and "restored into a scratch target" in deep["verify_detail"]
    assert "'select count(*) from pages' -> 3000" in deep["restore"]["checks"]
    assert not Path(deep["restore"]["target"]).exists()  # the scratch copy is gone

    drill = bk.json("backup", "drill", "app-db")
    assert drill["passed"] is True and drill["objective_s"] == 300.0 and drill["rto_s"] < 300
    assert set(drill["phases"]) == {"fetch_s", "decrypt_decompress_s", "restore_s", "verify_s", "total_s"}
    assert all(v >= 0 for v in drill["phases"].values())
    text = (bk.root / "tiation.yaml").read_text()
    (bk.root / "tiation.yaml").write_text(
        text.replace("rto: 5m", "rto: 1ms")
    )  # an objective no restore meets
    over = bk.json("backup", "drill", "app-db", expect=1)
    assert over["passed"] is False and over["objective_s"] == 0.001 and over["rto_s"] > 0.001
    (bk.root / "tiation.yaml").write_text(text)
    bk.json("backup", "drill", "app-db")
    metrics = bk.tiation("backup", "metrics").stdout
    assert 'tiation_backup_drill_within_objective{backup="app-db"} 1.0' in metrics
    assert 'tiation_backup_count{backup="app-db"} 2.0' in metrics

    # the catalog is an index: lose it, rebuild it from storage alone
    (bk.root / ".tiation" / "state.db").unlink()
    for wal in (bk.root / ".tiation").glob("state.db-*"):
        wal.unlink()
    assert bk.json("backup", "list", "app-db")["backups"] == []
    bk.tiation("backup", "catalog", "rebuild", "app-db")
    assert [b["id"] for b in bk.json("backup", "list", "app-db")["backups"]] == ids[:0:-1]


def test_flipped_byte_is_caught_by_verify_restore_and_drill(bk: Bk) -> None:
    backup_id = bk.json("backup", "run", "app-db")["backup_id"]
    data = bk.root / "backups" / backup_id / "data.zst.age"
    blob = bytearray(data.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    data.write_bytes(bytes(blob))
    failed = bk.tiation("backup", "verify", backup_id, expect=1)
    assert backup_id in failed.stderr and "sha256" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    assert bk.json("backup", "show", backup_id)["verified"] is False
    refused = bk.tiation("backup", "restore", backup_id, expect=1)
    assert backup_id in refused.stderr
    assert not list(bk.root.glob("app.restored-*"))
    no_good = bk.tiation("backup", "drill", "app-db", expect=1)  # the only backup failed verify
    assert "no backup of app-db to drill" in no_good.stderr


def test_altered_and_forged_manifests_are_caught(bk: Bk) -> None:
    from tiation.backup.manifest import Manifest

    backup_id = bk.json("backup", "run", "app-db")["backup_id"]
    path = bk.root / "backups" / backup_id / "manifest.json"
    original = path.read_bytes()
    flipped = bytearray(original)
    flipped[original.index(b'"recipients"') + 20] ^= 0x01
    path.write_bytes(bytes(flipped))
    failed = bk.tiation("backup", "verify", backup_id, expect=1)
    assert "manifest.json was altered" in failed.stderr and len(failed.stderr.strip().splitlines()) == 1
    # someone who can write storage recomputes the checksum: the catalog's copy and the seal still tell
    manifest = Manifest.from_json(original, backup_id)
    path.write_bytes(
        manifest.model_copy(update={"finished_at": manifest.finished_at.replace(year=2030)}).to_json()
    )
    assert "differs from the catalog's copy" in bk.tiation("backup", "verify", backup_id, expect=1).stderr
    refused = bk.tiation("backup", "restore", backup_id, expect=1)
    assert "nothing was written to" in refused.stderr
    assert not list(bk.root.glob("app.restored-*"))
    bk.tiation("backup", "catalog", "rebuild", "app-db")  # the catalog now trusts the forged manifest
    assert bk.json("backup", "verify", backup_id)["verified"] is True  # without the identity: cannot tell
    drill = bk.json("backup", "drill", "app-db", expect=1)
    assert drill["passed"] is False and "sealed inside the encrypted data" in drill["detail"]


def test_prune_and_the_next_run_remove_objects_a_killed_run_left_without_manifest(bk: Bk) -> None:
    def orphan() -> Path:
        """A backup whose run died between storing the data and writing the manifest, two hours ago."""
        backup_id = bk.json("backup", "run", "app-db")["backup_id"]
        (bk.root / "backups" / backup_id / "manifest.json").unlink()
        data = bk.root / "backups" / backup_id / "data.zst.age"
        old = data.stat().st_mtime - 7200
        os.utime(data, (old, old))
        return data

    young = bk.json("backup", "run", "app-db")["backup_id"]
    (bk.root / "backups" / young / "manifest.json").unlink()  # within the grace: maybe a backup finishing now
    first = orphan()  # (its run's start-up cleanup spared the young one)
    key = f"{first.parent.name}/{first.name}"
    dry = bk.json("backup", "prune", "app-db", "--dry-run")
    assert dry["orphans"] == [key] and first.exists()
    text = bk.tiation("backup", "prune", "app-db").stdout
    assert f"removed {key}: no manifest (left by a killed run)" in text
    assert not first.parent.exists() and (bk.root / "backups" / young / "data.zst.age").exists()
    second = orphan()
    done = bk.json("backup", "run", "app-db")
    assert done["removed_orphans"] == [f"{second.parent.name}/{second.name}"] and not second.exists()


class _ArchiveReader:
    """A files-kind source reader that serves fixed tar bytes (what a hostile storage writer could store)."""

    kind = "files"

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def open(self) -> _ArchiveReader:
        return self

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)

    def close(self) -> Any:
        from tiation.backup.sources.base import SourceInfo

        return SourceInfo(kind="files", format="tar")

    def abort(self) -> None:
        pass


def test_a_malicious_files_backup_is_refused_and_leaves_nothing(bk: Bk) -> None:
    from tiation.backup.pipeline import run_backup
    from tiation.backup.stores.dir import DirStore
    from tiation.clock import SystemClock

    text = (bk.root / "tiation.yaml").read_text()
    (bk.root / "tiation.yaml").write_text(
        text + f"  site:\n    source: {{files: {{paths: [site]}}}}\n    storage: local\n"
        f"    encryption: {{recipients: [{bk.recipient}], identity: file:key.txt}}\n"
    )
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, kind, link in [("site", tarfile.DIRTYPE, ""), ("site/out", tarfile.SYMTYPE, "../..")]:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            tar.addfile(info)
        info = tarfile.TarInfo("site/out/escaped.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"x\n"))
    manifest = run_backup(
        _ArchiveReader(archive.getvalue()),  # type: ignore[arg-type]
        DirStore(bk.root / "backups"),
        name="site",
        recipients=[bk.recipient],
        clock=SystemClock(),
    )
    bk.tiation("backup", "catalog", "rebuild", "site")
    before = sorted(p.name for p in bk.root.iterdir())
    target = bk.root / "restored" / "site"
    refused = bk.tiation("backup", "restore", manifest.backup_id, "--to", str(target), expect=1)
    assert "refused" in refused.stderr and "the partial restore into" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert not target.exists() and not list((bk.root / "restored").iterdir())
    assert sorted(p.name for p in bk.root.iterdir() if p.name != "restored") == before
    assert not (bk.root.parent / "escaped.txt").exists()


def test_wrong_identity_and_bad_config_are_one_line(bk: Bk, tmp_path: Path) -> None:
    backup_id = bk.json("backup", "run", "app-db")["backup_id"]
    other = tmp_path / "other.txt"
    subprocess.run(["age-keygen", "-o", str(other)], check=True, capture_output=True)
    wrong = bk.tiation("backup", "restore", backup_id, "-i", str(other), expect=1)
    assert "no identity matches" in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
    not_a_key = tmp_path / "not-a-key.txt"
    not_a_key.write_text("hello\n")
    refused = bk.tiation("backup", "restore", backup_id, "-i", str(not_a_key), expect=2)
    assert "holds no age identity" in refused.stderr
    text = (bk.root / "tiation.yaml").read_text()
    (bk.root / "tiation.yaml").write_text(text.replace(", identity: file:key.txt", "", 1))
    missing = bk.tiation("backup", "restore", backup_id, expect=1)
    assert "is encrypted: give an age identity with -i FILE" in missing.stderr
    text = (bk.root / "tiation.yaml").read_text()
    (bk.root / "tiation.yaml").write_text(
        text.replace(f"recipients: [{bk.recipient}]", "recipients: [age1nope]", 1)
    )
    bad = bk.tiation("backup", "run", "app-db", expect=2)
    assert "unknown recipient format" in bad.stderr and "tiation.yaml:" in bad.stderr


def test_postgres_backup_restore_replace_and_drill(bk: Bk, postgres_server: Any) -> None:
    db = "shop_e2e"
    admin = sqlalchemy.create_engine(postgres_server.dsn("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {db}"))
            conn.execute(sqlalchemy.text(f"CREATE DATABASE {db}"))
    finally:
        admin.dispose()
    live = sqlalchemy.create_engine(postgres_server.dsn(db))
    try:
        with live.begin() as conn:
            conn.execute(sqlalchemy.text("create table orders(id serial primary key, item text)"))
            conn.execute(
                sqlalchemy.text("insert into orders(item) select 'item ' || g from generate_series(1, 800) g")
            )
    finally:
        live.dispose()
    bk.env["SHOP_DSN"] = postgres_server.dsn(db).replace("postgres@", f"postgres:{SECRET_PW}@")
    backup_id = bk.json("backup", "run", "pg")["backup_id"]
    manifest = bk.json("backup", "show", backup_id)["manifest"]
    assert manifest["source"]["format"] == "pg_dump-custom"
    assert SECRET_PW not in json.dumps(manifest)

    restored = bk.json("backup", "restore", backup_id)
    assert restored["target"].startswith(f"{db}_restore_")
    assert "'select count(*) from orders' -> 800" in restored["checks"]

    drill = bk.json("backup", "drill", "pg")
    assert drill["passed"] is True

    # no lock-in: the standard tools alone restore it
    data = bk.root / "backups" / backup_id / "data.zst.age"
    raw_db = f"{db}_by_hand"
    admin = sqlalchemy.create_engine(postgres_server.dsn("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f"CREATE DATABASE {raw_db}"))
    finally:
        admin.dispose()
    target = postgres_server.dsn(raw_db).replace("+psycopg", "")
    decrypt = subprocess.Popen(["age", "-d", "-i", str(bk.key), str(data)], stdout=subprocess.PIPE)
    unzstd = subprocess.Popen(["zstd", "-d", "-c"], stdin=decrypt.stdout, stdout=subprocess.PIPE)
    load = subprocess.Popen(
        ["/usr/lib/postgresql/15/bin/pg_restore", "--no-owner", "-d", target], stdin=unzstd.stdout
    )
    assert decrypt.stdout is not None and unzstd.stdout is not None
    decrypt.stdout.close()  # so each producer sees a closed pipe if its consumer exits
    unzstd.stdout.close()
    assert [load.wait(timeout=120), unzstd.wait(timeout=120), decrypt.wait(timeout=120)] == [0, 0, 0]
    by_hand = sqlalchemy.create_engine(postgres_server.dsn(raw_db))
    try:
        with by_hand.connect() as conn:
            assert conn.execute(sqlalchemy.text("select count(*) from orders")).scalar() == 800
    finally:
        by_hand.dispose()

    replaced = bk.json("backup", "restore", backup_id, "--to", f"{db}_next", "--replace")
    assert replaced["replaced"].startswith(f"{db}_replaced_")
    check = sqlalchemy.create_engine(postgres_server.dsn(db))
    try:
        with check.connect() as conn:
            assert conn.execute(sqlalchemy.text("select count(*) from orders")).scalar() == 800
    finally:
        check.dispose()
    leftovers = [
        p for p in (bk.root / ".tiation").rglob("*") if p.is_file() and SECRET_PW.encode() in p.read_bytes()
    ]
    assert leftovers == []


def test_sigkill_of_a_running_backup_leaves_nothing_listed_or_orphaned(bk: Bk) -> None:
    import signal
    import time

    big = bk.root / "blobs"
    big.mkdir()
    for i in range(4):
        (big / f"blob{i}.bin").write_bytes(os.urandom(64 * 1024 * 1024))  # incompressible: a slow backup
    text = (bk.root / "tiation.yaml").read_text()
    (bk.root / "tiation.yaml").write_text(
        text + "  blobs:\n    source: {files: {paths: [blobs]}}\n    storage: local\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tiation", "backup", "run", "blobs"],
        env=bk.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = bk.root / "backups"
    deadline = time.monotonic() + 60
    while not any(
        p.name.startswith(".tmp-") and p.stat().st_size > 0 for p in store.rglob("*") if p.is_file()
    ):
        assert proc.poll() is None, "the backup finished before it could be killed"
        assert time.monotonic() < deadline, "no partial object appeared"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert bk.json("backup", "list", "blobs")["backups"] == []
    assert any(p.name.startswith(".tmp-") for p in store.rglob("*"))  # the killed run's partial object

    done = bk.json("backup", "run", "blobs")  # the next run cleans up after the killed one
    assert [b["id"] for b in bk.json("backup", "list", "blobs")["backups"]] == [done["backup_id"]]
    leftovers = sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())
    assert leftovers == [f"{done['backup_id']}/data.zst", f"{done['backup_id']}/manifest.json"]

    out = bk.root / "restored-blobs"
    restored = bk.json("backup", "restore", done["backup_id"], "--to", str(out))
    assert restored["checks"] == ["5 entries extracted"]  # the directory and its four files
    for i in range(4):
        assert (out / "blobs" / f"blob{i}.bin").read_bytes() == (big / f"blob{i}.bin").read_bytes()
    refused = bk.tiation("backup", "restore", done["backup_id"], "--to", str(out), expect=1)
    assert "is not empty" in refused.stderr


def test_a_killed_restore_is_recorded_reported_and_cleaned_up(bk: Bk) -> None:
    import signal
    import time

    big = bk.root / "blobs"
    big.mkdir()
    for i in range(3):
        (big / f"blob{i}.bin").write_bytes(os.urandom(48 * 1024 * 1024))
    text = (bk.root / "tiation.yaml").read_text()
    (bk.root / "tiation.yaml").write_text(
        text + "  blobs:\n    source: {files: {paths: [blobs]}}\n    storage: local\n"
    )
    backup_id = bk.json("backup", "run", "blobs")["backup_id"]
    target = bk.root / "restored"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tiation", "backup", "restore", backup_id, "--to", str(target)],
        env=bk.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not any(p.is_file() for p in bk.root.glob(".restored.tiation-restoring-*/blobs/*")):
        assert proc.poll() is None, "the restore finished before it could be killed"
        assert time.monotonic() < deadline, "no staging directory appeared"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    staging = list(bk.root.glob(".restored.tiation-restoring-*"))
    assert len(staging) == 1 and not target.exists()

    cleaned = bk.json("backup", "restore", "--cleanup")["interrupted"]
    assert len(cleaned) == 1 and f"restore of {backup_id} into {target}" in cleaned[0]
    assert f"was interrupted: removed {staging[0]}" in cleaned[0]
    assert not staging[0].exists() and not target.exists()
    assert bk.tiation("backup", "restore", "--cleanup").stdout.strip() == "no interrupted restores"
    restored = bk.json("backup", "restore", backup_id, "--to", str(target))  # and now it restores whole
    assert restored["interrupted"] == [] and (target / "blobs" / "blob2.bin").stat().st_size == 48 << 20
