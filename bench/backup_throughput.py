"""Backup and restore throughput of `tiation backup` against pg_dump, pg_dump | zstd, pgBackRest and Barman.

Goals (issue 3): tiation(dir) >= 0.90x the throughput of `pg_dump -Fc -Z0 | zstd -T2 -3`, >= 3x `pg_dump -Fc`
(its default compression), peak RSS <= 256 MB, and restore >= 0.9x the speed of a plain `pg_restore`.
Starts a throwaway PostgreSQL 15 (and a SeaweedFS for the s3 case) on loopback, loads a database of about
--size-mb MB of poorly compressible text (random words, numbers, hex tokens, JSON-ish attributes: zstd -3 gets
2-4x, not pgbench's 100x), then times each tool once, in order, on an otherwise idle machine. Throughput is always
the database size (pg_database_size) divided by the wall time, so the tools are compared on the same data.

    .venv/bin/python bench/backup_throughput.py [--size-mb 1024] [--keep] [--workdir DIR]

`--keep` keeps the work dir (server data, dumps, repositories) and prints its path; `--workdir DIR` reuses one,
skipping the load when its database is already there. Raw figures go to bench/results/backup_throughput.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
TIATION = VENV_BIN / "tiation"
WEED = VENV_BIN / "weed"
RESULTS = REPO / "bench" / "results" / "backup_throughput.json"
DB = "bench"
MB = 1024 * 1024
GOALS = {"vs_zstd": 0.90, "vs_pg_dump_fc": 3.0, "rss_mb": 256, "restore_vs_raw": 0.9}

# fsync stays at its default (on): this is the server being backed up, not a test fixture.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "50",
    "max_wal_size": "'4GB'",  # no forced checkpoints in the middle of a load or a restore
    "wal_level": "replica",
    "max_wal_senders": "5",
    "archive_mode": "on",
    "archive_command": "'/bin/true'",  # set to pgBackRest's archive-push just before its backup
    "log_min_messages": "warning",
}


# -- small helpers ----------------------------------------------------------------------------------------------
def free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.add(int(s.getsockname()[1]))
    return sorted(ports)


def as_user(user: str, argv: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *argv] if os.geteuid() == 0 else argv


def chown(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user=user, group=user)


def tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def timed(cmd: list[str] | str, *, env: dict[str, str] | None = None, check: bool = True) -> dict[str, Any]:
    """Run `cmd` (argv, or a bash -o pipefail line) under /usr/bin/time: wall s, peak RSS MB, user/sys s, output.

    Peak RSS is that of the process tree's biggest process (wait4's ru_maxrss), not a sum.
    """
    with tempfile.NamedTemporaryFile("r", prefix="bench-time-", suffix=".txt") as tf:
        inner = ["bash", "-o", "pipefail", "-c", cmd] if isinstance(cmd, str) else cmd
        argv = ["/usr/bin/time", "-f", "%e %M %U %S", "-o", tf.name, *inner]
        t0 = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        wall = time.monotonic() - t0
        fields = Path(tf.name).read_text().split()[-4:]
    out = {
        "wall_s": round(wall, 3),
        "rss_mb": round(int(fields[1]) / 1024, 1) if len(fields) == 4 else None,
        "user_s": float(fields[2]) if len(fields) == 4 else None,
        "sys_s": float(fields[3]) if len(fields) == 4 else None,
        "rc": proc.returncode,
        "stdout": proc.stdout,
        "stderr": proc.stderr,
    }
    if check and proc.returncode != 0:
        shown = cmd if isinstance(cmd, str) else shlex.join(cmd)
        raise RuntimeError(f"{shown} exited {proc.returncode}: {tail(proc.stderr or proc.stdout)}")
    return out


def quiet(argv: list[str], *, env: dict[str, str] | None = None, check: bool = True) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} exited {proc.returncode}: {tail(proc.stderr or proc.stdout)}")
    return proc.stdout + proc.stderr


# -- PostgreSQL 15 ------------------------------------------------------------------------------------------------
class Postgres:
    """A throwaway server in `top` (owned by postgres), trust auth on 127.0.0.1 (as tests/fixtures/postgres.py)."""

    def __init__(self, top: Path) -> None:
        self.bindir = Path("/usr/lib/postgresql/15/bin")
        self.top, self.data, self.sock, self.log = top, top / "data", top / "sock", top / "server.log"
        self.port = 0

    def start(self) -> None:
        self.top.mkdir(parents=True, exist_ok=True)
        self.top.chmod(0o755)
        chown(self.top, "postgres")
        if not (self.data / "PG_VERSION").exists():
            for d in (self.data, self.sock):
                d.mkdir(mode=0o700, exist_ok=True)
                chown(d, "postgres")
            quiet(as_user("postgres", [str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                                       "--auth=trust", "-E", "UTF8", "--no-sync"]))  # fmt: skip
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.write("\ninclude_if_exists = 'bench.conf'\n")
        self.port = free_ports(1)[0]
        settings = {**SERVER_SETTINGS, "port": str(self.port), "unix_socket_directories": f"'{self.sock}'"}
        conf = self.data / "bench.conf"
        conf.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        chown(conf, "postgres")
        self.log.touch()
        chown(self.log, "postgres")
        quiet(as_user("postgres", [str(self.bindir / "pg_ctl"), "start", "-D", str(self.data), "-l",
                                   str(self.log), "-w", "-t", "120"]))  # fmt: skip

    def set(self, name: str, value: str) -> None:
        """ALTER SYSTEM + reload (for reloadable settings such as archive_command)."""
        with self.connect("postgres") as c:
            c.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            c.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            quiet(as_user("postgres", [str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast",
                                       "-w"]), check=False)  # fmt: skip

    def connect(self, dbname: str) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True
        )

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def conn_args(self, dbname: str) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", dbname]

    def size(self, dbname: str = DB) -> int:
        with self.connect("postgres") as c:
            row = c.execute("SELECT pg_database_size(%s)", (dbname,)).fetchone()
        return int(row[0]) if row else 0

    def checkpoint(self) -> None:
        with self.connect("postgres") as c:
            c.execute("CHECKPOINT")

    def drop(self, dbname: str) -> None:
        with self.connect("postgres") as c:
            c.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


# -- the data -----------------------------------------------------------------------------------------------------
SCHEMA = """
-- word k of a 4,000-word pseudo-vocabulary (computed: subscripting a text array is O(k) in PostgreSQL)
CREATE FUNCTION w(k int) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN translate(substr(md5('w' || k), 1, 3 + k % 8), '0123456789abcdef', 'aeioutsrnlbkmpdy');
CREATE TABLE documents (
  id bigint PRIMARY KEY, author_id int NOT NULL, created_at timestamptz NOT NULL, title text NOT NULL,
  body text NOT NULL, token text NOT NULL, attrs text NOT NULL);
CREATE TABLE events (
  id bigint PRIMARY KEY, document_id bigint NOT NULL, at timestamptz NOT NULL, kind text NOT NULL,
  amount numeric(12, 2) NOT NULL, session text NOT NULL, payload text NOT NULL);
"""
# Correlated sub-selects (they use g) so random() is drawn per row, not once for the whole statement.
DOCUMENTS = """
INSERT INTO documents
SELECT g, (random() * 50000)::int, timestamptz '2024-01-01' + random() * interval '700 days',
  array_to_string(ARRAY(SELECT w(1 + (random() * 3999)::int) FROM generate_series(1, 3 + g % 6)), ' '),
  array_to_string(ARRAY(
    SELECT CASE WHEN (s + g) % 13 = 0 THEN ((random() * 100000)::int)::text
                WHEN (s + g) % 17 = 0 THEN w(1 + (random() * 3999)::int) || '.'
                ELSE w(1 + (random() * 3999)::int) END
    FROM generate_series(1, 30 + g % 90) s), ' '),
  md5(random()::text) || substr(md5(g::text), 1, 8),
  format('{"lang": "%s", "score": %s, "views": %s, "tags": ["%s", "%s"], "ip": "10.%s.%s.%s", "ref": "%s"}',
         (ARRAY['en', 'de', 'fr', 'es', 'pt', 'nl', 'sv'])[1 + g % 7], round((random() * 100)::numeric, 3),
         (random() * 1e6)::int, w(1 + (random() * 3999)::int), w(1 + (random() * 3999)::int) || g % 3,
         (random() * 255)::int, (random() * 255)::int, (random() * 255)::int, left(md5(random()::text), 12))
FROM generate_series(:lo::bigint, :hi::bigint) g
"""
EVENTS = """
INSERT INTO events
SELECT g, (random() * :docs)::bigint, timestamptz '2024-01-01' + random() * interval '700 days',
  (ARRAY['view', 'click', 'purchase', 'refund', 'signup', 'share', 'comment'])[1 + (random() * 6)::int],
  round((random() * 5000)::numeric, 2), md5(random()::text),
  format('%s/%s?q=%s&page=%s&ua=%s', w(1 + (random() * 3999)::int), w(1 + (random() * 3999)::int),
         w(1 + (random() * 3999)::int), (random() * 40)::int, left(md5(random()::text), (10 + g % 12)::int))
FROM generate_series(:lo::bigint, :hi::bigint) g
"""
INDEXES = """
CREATE INDEX documents_author_created ON documents (author_id, created_at);
CREATE INDEX events_document ON events (document_id);
ANALYZE;
"""


def fill(query: str, **values: int) -> str:
    """`query` with :name replaced by integers (no parameters: the SQL's own % stays as it is)."""
    for name, value in values.items():
        query = query.replace(f":{name}", str(int(value)))
    return query


def load(pg: Postgres, size_mb: int) -> dict[str, Any]:
    """Fill database `bench` to about size_mb MB with two loader connections; tables first, then indexes."""
    t0 = time.monotonic()
    with pg.connect("postgres") as c:
        c.execute(f"CREATE DATABASE {DB}")
    with pg.connect(DB) as c:
        c.execute(SCHEMA)
    target = size_mb * MB * 0.93  # the last batches and the two secondary indexes add the rest
    batch_docs, batch_events = 20_000, 120_000
    next_doc, next_event = [1], [1]
    lock = threading.Lock()
    done = threading.Event()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with pg.connect(DB) as c:
                c.execute("SET synchronous_commit = off")
                while not done.is_set():
                    with lock:
                        lo_d, lo_e = next_doc[0], next_event[0]
                        next_doc[0] += batch_docs
                        next_event[0] += batch_events
                    c.execute(fill(DOCUMENTS, lo=lo_d, hi=lo_d + batch_docs - 1))
                    c.execute(fill(EVENTS, lo=lo_e, hi=lo_e + batch_events - 1, docs=lo_d + batch_docs))
                    if pg.size() >= target:
                        done.set()
        except BaseException as exc:
            errors.append(exc)
            done.set()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    last = time.monotonic()
    while any(t.is_alive() for t in threads):
        time.sleep(1)
        if time.monotonic() - last > 15:
            last = time.monotonic()
            print(f"  loading: {pg.size() / MB:.0f} MB after {last - t0:.0f} s", flush=True)
    if errors:
        raise errors[0]
    with pg.connect(DB) as c:
        c.execute(INDEXES)
        c.execute(f"COMMENT ON DATABASE {DB} IS 'loaded {size_mb} MB'")
    pg.checkpoint()
    return {"load_s": round(time.monotonic() - t0, 1)}


def describe_db(pg: Postgres) -> dict[str, Any]:
    with pg.connect(DB) as c:
        rows = c.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relname IN ('documents', 'events') "
            "ORDER BY relname"
        ).fetchall()
        counts = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("documents", "events")}  # type: ignore[index]
    return {
        "db_bytes": pg.size(),
        "tables": {name: {"bytes": int(size), "rows": int(counts[name])} for name, size in rows},
    }


# -- SeaweedFS (as tests/fixtures/seaweedfs.py) --------------------------------------------------------------------
class Seaweed:
    NAMES = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc")

    def __init__(self, root: Path) -> None:
        self.root = root
        self.access_key = f"BENCHAK{uuid.uuid4().hex[:13].upper()}"
        self.secret_key = f"bench-sk-{uuid.uuid4().hex}"
        self.ports = dict(zip(self.NAMES, free_ports(len(self.NAMES)), strict=True))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def start(self) -> None:
        for d in ("data", "master", "glog"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        identity = {"accessKey": self.access_key, "secretKey": self.secret_key}
        config = {"identities": [{"name": "bench", "credentials": [identity],
                                  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}  # fmt: skip
        (self.root / "s3.json").write_text(json.dumps(config))
        p, r = self.ports, self.root
        argv = [
            str(WEED), f"-logdir={r / 'glog'}", "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.telemetry=false", f"-dir={r / 'data'}", f"-master.dir={r / 'master'}",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master_grpc']}", "-master.electionTimeout=1s",
            "-master.volumeSizeLimitMB=64", "-volume.max=0", f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}", f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}", f"-filer.localSocket={r / 'filer.sock'}", "-s3",
            f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3_grpc']}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.localSocket={r / 's3.sock'}", f"-s3.config={r / 's3.json'}", "-s3.autoCreateBucket=false",
        ]  # fmt: skip
        with (r / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         cwd=r, env={**os.environ, "TMPDIR": str(r / "glog")},
                                         start_new_session=True)  # fmt: skip
        client, deadline, last = self.client(), time.monotonic() + 60, ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited {self.proc.returncode}")
            try:  # listing answers before the volume layer does; a write and read prove it is up
                client.create_bucket(Bucket="ready")
                client.put_object(Bucket="ready", Key="probe", Body=b"ok")
                client.get_object(Bucket="ready", Key="probe")["Body"].read()
                client.delete_object(Bucket="ready", Key="probe")
                client.delete_bucket(Bucket="ready")
                client.create_bucket(Bucket="bench")
                return
            except Exception as exc:
                last = f"{type(exc).__name__}: {exc}"
                time.sleep(0.3)
        raise RuntimeError(f"SeaweedFS S3 did not answer within 60 s ({last})")

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2, read_timeout=30,
                          s3={"addressing_style": "path"}),
        )  # fmt: skip

    def stored_bytes(self) -> int:
        return sum(int(p.stat().st_size) for p in (self.root / "data").rglob("*") if p.is_file())

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        for kind in ("master", "volume", "filer", "s3"):
            Path(f"/tmp/seaweedfs-{kind}-grpc-{self.ports[kind + '_grpc']}.sock").unlink(missing_ok=True)


# -- tiation's platform file ---------------------------------------------------------------------------------------
PLATFORM = """\
version: 1
project: {{name: backup-bench}}
environments: {{dev: {{target: fake}}}}
services: {{web: {{port: 5000, tier: critical}}}}
objectives: {{tiers: {{critical: {{rto: 60m, rpo: 15m}}}}}}
storage:
  local: {{dir: {{path: backups}}}}
  seaweed:
    s3: {{bucket: bench, prefix: db/, endpoint: "{endpoint}", region: us-east-1,
         access_key: env:BENCH_S3_ACCESS_KEY, secret_key: env:BENCH_S3_SECRET_KEY}}
backups:
  bench-dir: &b
    source: {{postgres: {{dsn: env:BENCH_DSN, format: custom}}}}
    storage: local
    tier: critical
    encryption: {{recipients: [{recipient}], identity: file:key.txt}}
    verify:
      tables: [documents, events]
      queries: [{{sql: "SELECT count(*) FROM documents", min_rows: 1}}]
  bench-s3:
    <<: *b
    storage: seaweed
"""


def tiation(plat: Path, env: dict[str, str], *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run `tiation ARGS --json` under /usr/bin/time; (its JSON output, the timing)."""
    t = timed([str(TIATION), *args, "--json"], env={**env, "TIATION_FILE": str(plat / "tiation.yaml")})
    return json.loads(t.pop("stdout")), t


# -- pgBackRest and Barman -----------------------------------------------------------------------------------------
def pgbackrest_setup(pg: Postgres, root: Path) -> list[str]:
    """A repo on local disk (zst, process-max 2); archive_command set to archive-push; stanza-create; check."""
    for d in ("repo", "log", "lock", "spool"):
        (root / d).mkdir(parents=True, exist_ok=True)
        chown(root / d, "postgres")
    chown(root, "postgres")
    conf = root / "pgbackrest.conf"
    conf.write_text(
        "[global]\n"
        f"repo1-path={root / 'repo'}\nrepo1-retention-full=1\ncompress-type=zst\ncompress-level=3\n"
        f"process-max=2\nstart-fast=y\nlog-path={root / 'log'}\nlock-path={root / 'lock'}\n"
        f"spool-path={root / 'spool'}\nlog-level-console=warn\nlog-level-file=info\n\n"
        f"[bench]\npg1-path={pg.data}\npg1-port={pg.port}\npg1-socket-path={pg.sock}\npg1-user=postgres\n"
    )
    chown(conf, "postgres")
    base = ["pgbackrest", f"--config={conf}", "--stanza=bench"]
    pg.set("archive_command", f"{shlex.join(base)} archive-push %p")
    quiet(as_user("postgres", [*base, "stanza-create"]))
    quiet(as_user("postgres", [*base, "check"]))
    return base


def barman_setup(pg: Postgres, root: Path) -> tuple[list[str], subprocess.Popen[bytes]]:
    """backup_method = postgres (pg_basebackup) with streaming WAL (pg_receivewal via a slot), as user barman."""
    for d in ("home", "log"):
        (root / d).mkdir(parents=True, exist_ok=True)
        chown(root / d, "barman")
    conf = root / "barman.conf"
    conninfo = f"host=127.0.0.1 port={pg.port} user=postgres dbname=postgres"
    conf.write_text(
        f"[barman]\nbarman_user = barman\nbarman_home = {root / 'home'}\nlog_file = {root / 'log' / 'barman.log'}\n"
        "log_level = INFO\n\n"
        f"[bench]\ndescription = bench\nconninfo = {conninfo}\nstreaming_conninfo = {conninfo}\n"
        "backup_method = postgres\nstreaming_archiver = on\nslot_name = barman_bench\ncreate_slot = auto\n"
        "archiver = off\nimmediate_checkpoint = true\npath_prefix = /usr/lib/postgresql/15/bin\n"
        "backup_compression = zstd\nbackup_compression_format = tar\nbackup_compression_location = client\n"
    )
    conf.chmod(0o644)
    base = ["barman", "-c", str(conf)]
    quiet(as_user("barman", [*base, "receive-wal", "--create-slot", "bench"]), check=False)
    log = (root / "log" / "receive-wal.out").open("ab")
    receiver = subprocess.Popen(as_user("barman", [*base, "receive-wal", "bench"]), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 90
    out = ""
    while time.monotonic() < deadline:
        quiet(as_user("barman", [*base, "switch-wal", "--force", "bench"]), check=False)
        time.sleep(2)
        quiet(as_user("barman", [*base, "cron"]), check=False)
        out = quiet(as_user("barman", [*base, "check", "bench"]), check=False)
        if "FAILED" not in out:
            return base, receiver
    stop_group(receiver)
    raise RuntimeError("barman check kept failing: " + "; ".join(ln.strip() for ln in out.splitlines()
                                                                 if "FAILED" in ln))  # fmt: skip


def stop_group(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


# -- the run --------------------------------------------------------------------------------------------------------
def machine() -> str:
    mem = next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
    gib = int(mem.split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} vCPU, {gib:.0f} GB RAM, Linux {platform.release()}, Python {platform.python_version()}"


def versions() -> dict[str, str]:
    def first(argv: list[str]) -> str:
        try:
            return quiet(argv, check=False).strip().splitlines()[0]
        except (OSError, IndexError):
            return "not installed"

    return {
        "postgres": first(["/usr/lib/postgresql/15/bin/postgres", "--version"]),
        "zstd": first(["zstd", "--version"]),
        "pgbackrest": first(["pgbackrest", "version"]),
        "barman": first(["barman", "--version"]),
        "tiation": first([str(TIATION), "--version"]),
        "weed": first([str(WEED), "version"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024, help="database size to load (pg_database_size)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (server data, dumps, repos)")
    parser.add_argument("--workdir", type=Path, help="work dir to use/reuse (default: a new temp dir)")
    parser.add_argument(
        "--only", default="", help="comma-separated steps to run (e.g. b,d,h1,h2); default: all"
    )
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="tiation-bench-backup-"))
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)
    pg = Postgres(work / "pg")
    weed = Seaweed(work / "weed")
    try:
        pg.start()
        return run(args, work, pg, weed)
    finally:
        for proc in RECEIVERS:
            stop_group(proc)
        weed.stop()
        pg.stop()
        if args.keep or args.workdir:
            print(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


class _Skipped(Exception):
    """A step left out with --only."""


RECEIVERS: list[subprocess.Popen[bytes]] = []  # barman receive-wal, stopped after its backup (or at exit)


def run(args: argparse.Namespace, work: Path, pg: Postgres, weed: Seaweed) -> int:
    results: dict[str, Any] = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "versions": versions(),
    }
    print(f"machine: {results['machine']}")
    print("versions: " + "; ".join(results["versions"].values()))
    with pg.connect("postgres") as c:
        row = c.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (DB,)
        ).fetchone()
    if row is not None and not str(row[0] or "").startswith("loaded"):
        pg.drop(DB)  # a load that did not finish
    if row is not None and str(row[0] or "").startswith("loaded"):
        print(f"reusing database {DB} in {pg.data}")
        results["load"] = {"reused": True}
    else:
        print(f"loading about {args.size_mb} MB into {DB} …", flush=True)
        results["load"] = load(pg, args.size_mb)
    for db in ("bench_raw_restore", "bench_tiation_restore"):
        pg.drop(db)
    results["db"] = describe_db(pg)
    db_bytes = results["db"]["db_bytes"]
    db_mb = db_bytes / MB
    tables = ", ".join(
        f"{n} {v['rows']:,} rows {v['bytes'] / MB:.0f} MB" for n, v in results["db"]["tables"].items()
    )
    print(f"database {DB}: {db_mb:.0f} MB (pg_database_size); {tables}; load {results['load']}")

    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    conn = shlex.join(pg.conn_args(DB))
    pg_dump = "/usr/lib/postgresql/15/bin/pg_dump"
    m: dict[str, dict[str, Any]] = {}
    results["measurements"] = m

    only = {k.strip() for k in args.only.split(",") if k.strip()}

    def wanted(key: str) -> bool:
        return not only or key in only

    def step(key: str, label: str, fn: Any) -> None:
        if not wanted(key):
            return
        pg.checkpoint()
        print(f"[{key}] {label} …", flush=True)
        try:
            m[key] = {"label": label, **fn()}
        except Exception as exc:
            m[key] = {"label": label, "error": str(exc)}
            print(f"    FAILED: {exc}", flush=True)
            return
        r = m[key]
        extra = f", peak RSS {r['rss_mb']:.0f} MB" if r.get("rss_mb") is not None else ""
        extra += f", user {r['user_s']:.1f}s sys {r['sys_s']:.1f}s" if r.get("user_s") is not None else ""
        size = f", {r['out_bytes'] / MB:.0f} MB written" if r.get("out_bytes") else ""
        print(f"    {r['wall_s']:.1f}s = {db_mb / r['wall_s']:.1f} MB/s{size}{extra}", flush=True)
        for k in ("note",):
            if r.get(k):
                print(f"    {r[k]}")
        for k, v in r.items():
            if k not in ("label", "wall_s", "rss_mb", "user_s", "sys_s", "out_bytes", "rc", "stderr", "note"):
                print(f"    {k}: {v}")

    def a() -> dict[str, Any]:
        t = timed(f"{pg_dump} -Fc -Z0 {conn} > /dev/null")
        return {k: t[k] for k in ("wall_s", "rss_mb", "user_s", "sys_s")}

    def b() -> dict[str, Any]:
        f = out / "dump.z0.zst"
        t1, t2 = out / "t_pg_dump", out / "t_zstd"
        t = timed(f"/usr/bin/time -f %M -o {t1} {pg_dump} -Fc -Z0 {conn} | "
                  f"/usr/bin/time -f %M -o {t2} zstd -q -T2 -3 > {f}")  # fmt: skip
        rss = [int(p.read_text().split()[-1]) / 1024 for p in (t1, t2)]
        return {"wall_s": t["wall_s"], "rss_mb": max(rss), "user_s": t["user_s"], "sys_s": t["sys_s"],
                "out_bytes": f.stat().st_size, "rss_pg_dump_mb": round(rss[0], 1),
                "rss_zstd_mb": round(rss[1], 1)}  # fmt: skip

    def c() -> dict[str, Any]:
        f = out / "dump.fc"
        t = timed(f"{pg_dump} -Fc {conn} > {f}")
        return {**{k: t[k] for k in ("wall_s", "rss_mb", "user_s", "sys_s")}, "out_bytes": f.stat().st_size}

    # tiation: platform file, age key
    plat = work / "platform"
    shutil.rmtree(plat, ignore_errors=True)
    plat.mkdir()
    quiet(["age-keygen", "-o", str(plat / "key.txt")])
    recipient = next(
        ln.split(": ")[1] for ln in (plat / "key.txt").read_text().splitlines() if "public key" in ln
    )
    (plat / "tiation.yaml").write_text(PLATFORM.format(endpoint=weed.endpoint, recipient=recipient))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIATION_")}
    env.update(BENCH_DSN=pg.url(DB), BENCH_S3_ACCESS_KEY=weed.access_key, BENCH_S3_SECRET_KEY=weed.secret_key,
               TIATION_ACTOR="bench")  # fmt: skip
    ids: dict[str, str] = {}

    def tiation_run(name: str) -> dict[str, Any]:
        manifest, t = tiation(plat, env, "backup", "run", name)
        ids[name] = manifest["backup_id"]
        s, tm = manifest["sizes"], manifest["timings"]
        return {**{k: t[k] for k in ("wall_s", "rss_mb", "user_s", "sys_s")}, "out_bytes": s["stored_bytes"],
                "source_bytes": s["source_bytes"], "manifest_timings": tm,
                "manifest_total_s": tm["total"]}  # fmt: skip

    step("a", "pg_dump -Fc -Z0 > /dev/null (raw dump speed, the ceiling)", a)
    step("b", "pg_dump -Fc -Z0 | zstd -T2 -3 > file (the baseline)", b)
    step("c", "pg_dump -Fc > file (default compression, gzip -6)", c)
    step(
        "d",
        "tiation backup run (dir storage, zstd -3 x2 threads, age-encrypted)",
        lambda: tiation_run("bench-dir"),
    )

    def e() -> dict[str, Any]:
        return tiation_run("bench-s3")

    try:
        if wanted("e"):
            weed.start()
        step("e", "tiation backup run (s3 storage on SeaweedFS, age-encrypted)", e)
    except Exception as exc:
        m["e"] = {"label": "tiation backup run (s3 on SeaweedFS)", "error": f"SeaweedFS: {exc}"}
        print(f"[e] FAILED: SeaweedFS: {exc}")
    finally:
        weed.stop()

    # pgBackRest
    brroot = work / "pgbackrest"
    shutil.rmtree(brroot, ignore_errors=True)
    try:
        if not wanted("f"):
            raise _Skipped
        t0 = time.monotonic()
        base = pgbackrest_setup(pg, brroot)
        setup_s = time.monotonic() - t0

        def f() -> dict[str, Any]:
            t = timed(as_user("postgres", [*base, "backup", "--type=full"]))
            return {**{k: t[k] for k in ("wall_s", "rss_mb", "user_s", "sys_s")},
                    "out_bytes": dir_bytes(brroot / "repo" / "backup"),
                    "note": f"setup (archive_command, stanza-create, check) {setup_s:.1f}s, not counted"}  # fmt: skip

        step("f", "pgBackRest backup --type=full (zst -3, process-max=2, local repo)", f)
    except _Skipped:
        pass
    except Exception as exc:
        m["f"] = {"label": "pgBackRest full backup", "error": f"setup: {exc}"}
        print(f"[f] FAILED: pgBackRest setup: {exc}")
    pg.set("archive_command", "/bin/true")

    # Barman
    bmroot = work / "barman"
    shutil.rmtree(bmroot, ignore_errors=True)
    try:
        if not wanted("g"):
            raise _Skipped
        t0 = time.monotonic()
        bbase, receiver = barman_setup(pg, bmroot)
        RECEIVERS.append(receiver)
        setup_s = time.monotonic() - t0

        def g() -> dict[str, Any]:
            t = timed(as_user("barman", [*bbase, "backup", "bench"]))
            status = quiet(as_user("barman", [*bbase, "list-backups", "bench"]), check=False).strip()
            return {**{k: t[k] for k in ("wall_s", "rss_mb", "user_s", "sys_s")},
                    "out_bytes": dir_bytes(bmroot / "home" / "bench" / "base"),
                    "note": f"setup (slot, receive-wal, switch-wal, check) {setup_s:.1f}s, not counted; "
                            f"list-backups: {status}"}  # fmt: skip

        step("g", "Barman backup (backup_method=postgres: pg_basebackup, zstd, client-side)", g)
    except _Skipped:
        pass
    except Exception as exc:
        m["g"] = {"label": "Barman backup", "error": f"setup: {exc}"}
        print(f"[g] FAILED: Barman setup: {exc}")
    finally:
        for proc in RECEIVERS:
            stop_group(proc)
        with contextlib.suppress(Exception), pg.connect("postgres") as c2:
            c2.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots")

    # Restores
    raw = out / "dump.z0"
    if (out / "dump.z0.zst").exists():
        quiet(["zstd", "-q", "-d", "-f", str(out / "dump.z0.zst"), "-o", str(raw)])

    def h_raw() -> dict[str, Any]:
        with pg.connect("postgres") as c2:
            c2.execute("CREATE DATABASE bench_raw_restore")
        t = timed([str(Path(pg_dump).with_name("pg_restore")), "--no-owner", "--exit-on-error",
                   *pg.conn_args("bench_raw_restore"), str(raw)])  # fmt: skip
        return {k: t[k] for k in ("wall_s", "rss_mb", "user_s", "sys_s")}

    def h_tiation() -> dict[str, Any]:
        res, t = tiation(plat, env, "backup", "restore", ids["bench-dir"], "--to", "bench_tiation_restore")
        return {**{k: t[k] for k in ("wall_s", "rss_mb", "user_s", "sys_s")}, "phases": res["phases"],
                "checks": res["checks"]}  # fmt: skip

    step("h1", "pg_restore --no-owner -d newdb dump.z0 (raw restore of the -Fc -Z0 file)", h_raw)
    if "bench-dir" in ids:
        step(
            "h2",
            "tiation backup restore ID --to newdb (dir storage; decrypt, unzstd, pg_restore, checks)",
            h_tiation,
        )
    for db in ("bench_raw_restore", "bench_tiation_restore"):
        with contextlib.suppress(Exception):
            if not args.keep:
                pg.drop(db)

    report(results, db_bytes)
    if only:
        print("partial run (--only): raw figures not written")
        return 0
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"raw figures: {RESULTS.relative_to(REPO)}")
    return 0


def report(results: dict[str, Any], db_bytes: int) -> None:
    m = results["measurements"]
    db_mb = db_bytes / MB
    d_src = m.get("d", {}).get("source_bytes")
    b_out = m.get("b", {}).get("out_bytes")
    if d_src and b_out:
        results["zstd3_ratio"] = round(d_src / b_out, 2)
        print(
            f"\ndump (-Fc -Z0) {d_src / MB:.0f} MB; zstd -3 of it {b_out / MB:.0f} MB: ratio {d_src / b_out:.2f}x"
        )
    print(f"\nsummary (database {db_mb:.0f} MB; MB/s = database MB / wall s; one run each)")
    print(f"{'':4}{'what':<70}{'wall s':>8}{'MB/s':>8}{'RSS MB':>8}{'out MB':>8}")
    for key, r in m.items():
        if "error" in r:
            print(f"{key:<4}{r['label'][:69]:<70}  FAILED: {r['error'][:200]}")
            continue
        out = f"{r['out_bytes'] / MB:.0f}" if r.get("out_bytes") else "-"
        rss = f"{r['rss_mb']:.0f}" if r.get("rss_mb") is not None else "-"
        print(f"{key:<4}{r['label'][:69]:<70}{r['wall_s']:>8.1f}{db_mb / r['wall_s']:>8.1f}{rss:>8}{out:>8}")
    ratios: dict[str, Any] = {}

    def speed(key: str) -> float | None:
        r = m.get(key, {})
        return db_mb / r["wall_s"] if "wall_s" in r else None

    def ratio(name: str, num: str, den: str, goal: float, text: str) -> None:
        x, y = speed(num), speed(den)
        if x is None or y is None:
            print(f"{text}: not measured")
            return
        ratios[name] = round(x / y, 3)
        verdict = f" (goal >= {goal:g}x: {'met' if x / y >= goal else 'NOT met'})" if goal else ""
        print(f"{text}: {x / y:.2f}x{verdict}")

    print("\ngoals")
    ratio("vs_zstd", "d", "b", GOALS["vs_zstd"], "tiation(dir) / (pg_dump | zstd) throughput")
    ratio("vs_pg_dump_fc", "d", "c", GOALS["vs_pg_dump_fc"], "tiation(dir) / (pg_dump -Fc) throughput")
    rss = [m[k]["rss_mb"] for k in ("d", "e", "h2") if m.get(k, {}).get("rss_mb") is not None]
    if rss:
        ratios["tiation_peak_rss_mb"] = max(rss)
        verdict = "met" if max(rss) <= GOALS["rss_mb"] else "NOT met"
        print(
            f"tiation peak RSS (run dir/s3, restore): {max(rss):.0f} MB (goal <= {GOALS['rss_mb']} MB: {verdict})"
        )
    ratio("restore_vs_raw", "h2", "h1", GOALS["restore_vs_raw"], "tiation restore / raw pg_restore speed")
    ratio("dir_vs_raw_dump", "d", "a", 0, "for reference: tiation(dir) / raw pg_dump -Z0 to /dev/null")
    ratio("s3_vs_dir", "e", "d", 0, "for reference: tiation(s3) / tiation(dir)")
    results["ratios"] = ratios


if __name__ == "__main__":
    sys.exit(main())
