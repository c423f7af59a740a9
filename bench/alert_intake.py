"""Alert intake throughput and latency of `tiation serve`, from a load generator in a separate process.

Goals (issue 4): >= 2,000 alerts/s in batches of 100; intake p99 < 50 ms at 1,000 alerts/s (single-alert posts).
The server runs in its own process on loopback; this process is the load generator (asyncio, raw HTTP/1.1 on
keep-alive connections, so that the client costs little of the shared CPU). Three phases, generic intake:

1. batches of 100 alerts, closed loop on `--connections` connections for `--seconds`: alerts/s;
2. single-alert posts, closed loop, same: alerts/s;
3. single-alert posts at a fixed `--rate` (open loop: each request's latency counts from when it was due, so a
   slow server cannot hide its queueing): p50 / p99 / max.

Every alert has its own label set (all are new to the engine). Engines:

    .venv/bin/python bench/alert_intake.py                       # the shipped fake engine (RecordingIngestor)
    .venv/bin/python bench/alert_intake.py --platform FILE --token TOKEN   # `tiation -f FILE serve` (real engine)
    .venv/bin/python bench/alert_intake.py --target alertmanager  # the same load into a real Alertmanager's API

Raw figures go to bench/results/alert_intake[-platform|-alertmanager].json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _serve import free_port, wait_ready

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
TOKEN = "bench-intake-token"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
_SEQ = itertools.count()


# --- the server side -------------------------------------------------------------------------------------


def serve_fake(port: int, digest: str, commit_delay: float) -> None:
    """Run the real app with the fake engine (this script re-run as the server process)."""
    from tiation.config.alerting import Intake
    from tiation.server.app import create_app
    from tiation.server.fake import RecordingIngestor
    from tiation.server.run import configure_logging, serve

    configure_logging(access_log=False)
    intake = {"generic": Intake.model_validate({"tokens_sha256": [digest], "max_body_bytes": 4 << 20})}
    serve(create_app(intake, RecordingIngestor(commit_delay=commit_delay, keep=False)), "127.0.0.1", port)


def start_server(args: argparse.Namespace, work: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = (work / "server.log").open("wb")
    if args.target == "alertmanager":
        config = work / "alertmanager.yml"
        config.write_text(json.dumps({"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}))
        argv = [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={work / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ]
    elif args.platform:
        tiation = str(Path(sys.executable).with_name("tiation"))
        argv = [tiation, "-f", str(args.platform), "serve", "--port", str(port), "--no-access-log"]
    else:
        digest = hashlib.sha256(args.token.encode()).hexdigest()
        argv = [sys.executable, __file__, "--serve-fake", str(port), digest, str(args.commit_delay)]
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=work, start_new_session=True)
    ready = "/-/ready" if args.target == "alertmanager" else "/healthz"
    wait_ready(proc, f"http://127.0.0.1:{port}{ready}", work / "server.log")
    return proc, port


# --- the load generator ----------------------------------------------------------------------------------


def alerts(n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        i = next(_SEQ)
        out.append(
            {
                "labels": {
                    "alertname": f"BenchAlert{i % 50}",
                    "service": "cms",
                    "instance": f"host-{i}",
                    "severity": "warning",
                },
                "annotations": {"summary": "load generator"},
            }
        )
    return out


def request(target: str, port: int, token: str, n: int) -> bytes:
    if target == "alertmanager":
        path, body = "/api/v2/alerts", json.dumps(alerts(n)).encode()
        auth = b""
    else:
        batch = alerts(n)
        path = "/api/v1/intake/generic"
        body = json.dumps({"alerts": batch} if n > 1 else batch[0]).encode()
        auth = f"Authorization: Bearer {token}\r\n".encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
    ).encode()
    return head + auth + b"\r\n" + body


_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


class Connection:
    """One keep-alive HTTP/1.1 connection: send a request, read one response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def call(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        match = _LENGTH.search(head)
        if match is None:
            raise RuntimeError("response without Content-Length")
        await self.reader.readexactly(int(match.group(1)))
        return int(head[9:12])

    def close(self) -> None:
        self.writer.close()


async def closed_loop(
    target: str, port: int, token: str, size: int, conns: int, seconds: float
) -> dict[str, Any]:
    """`conns` connections posting `size` alerts per request back to back for `seconds`."""
    pool = [await Connection.open(port) for _ in range(conns)]
    done = errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker(conn: Connection) -> None:
        nonlocal done, errors
        while time.perf_counter() < stop_at:
            status = await conn.call(request(target, port, token, size))
            done += 1
            errors += status >= 300
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in pool))
    elapsed = time.perf_counter() - started
    return {
        "requests": done,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "alerts_per_second": round(done * size / elapsed),
    }


def _jiffies(pid: int | None = None) -> float:
    """CPU seconds used: by the whole machine (busy time, all CPUs), or by one process."""
    tick = os.sysconf("SC_CLK_TCK")
    if pid is None:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (sum(fields) - fields[3] - fields[4]) / tick  # minus idle and iowait
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / tick


class CpuShare:
    """How much CPU the server, this load generator and everything else used over a phase."""

    def __init__(self, server_pid: int | None) -> None:
        self.pids = {"server": server_pid, "load_generator": os.getpid()}
        self.start = {k: _jiffies(p) for k, p in self.pids.items() if p is not None}
        self.machine = _jiffies()
        self.wall = time.perf_counter()

    def end(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall
        used = {k: _jiffies(self.pids[k]) - v for k, v in self.start.items()}
        used["other"] = _jiffies() - self.machine - sum(used.values())
        return {f"{k}_cpu_percent": max(0, round(100 * v / wall)) for k, v in used.items()}


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fixed_rate(
    target: str, port: int, token: str, rate: float, conns: int, seconds: float
) -> dict[str, Any]:
    """Single-alert posts due every 1/rate s (open loop); latency from due time to answer."""
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(conns):
        idle.put_nowait(await Connection.open(port))
    latencies: list[float] = []
    errors = 0
    tasks: set[asyncio.Task[None]] = set()

    async def one(due: float) -> None:
        nonlocal errors
        conn = await idle.get()
        status = await conn.call(request(target, port, token, 1))
        latencies.append(time.perf_counter() - due)
        errors += status >= 300
        idle.put_nowait(conn)

    total = int(rate * seconds)
    started = time.perf_counter()
    sent = 0
    while sent < total:
        now = time.perf_counter()
        due_count = min(total, int((now - started) * rate) + 1)
        while sent < due_count:
            task = asyncio.create_task(one(started + sent / rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        await asyncio.sleep(max(0.0, started + sent / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    while not idle.empty():
        idle.get_nowait().close()
    ms = [x * 1000 for x in latencies]
    return {
        "requests": len(ms),
        "errors": errors,
        "achieved_per_second": round(len(ms) / elapsed),
        "p50_ms": round(quantile(ms, 0.50), 2),
        "p99_ms": round(quantile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
    }


def server_batches(port: int) -> dict[str, float] | None:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    values = dict(re.findall(r"^(tiation_intake_batch_events_(?:sum|count)) (\S+)$", text, re.MULTILINE))
    if not values:
        return None
    count = float(values["tiation_intake_batch_events_count"])
    events = float(values["tiation_intake_batch_events_sum"])
    return {"commits": count, "events": events, "events_per_commit": round(events / count, 1) if count else 0}


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="tiation-bench-intake-"))
    proc, port = start_server(args, work) if args.url is None else (None, int(args.url.rsplit(":", 1)[1]))
    results: dict[str, Any] = {
        "target": args.target,
        "engine": "alertmanager"
        if args.target == "alertmanager"
        else ("platform" if args.platform else "fake"),
        "machine": f"{os.cpu_count()} CPU, {platform.platform()}, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "settings": {k: v for k, v in vars(args).items() if k in ("connections", "seconds", "rate")},
    }
    try:
        asyncio.run(closed_loop(args.target, port, args.token, 1, 4, 2.0))  # warm-up
        phases = [
            (
                "batched_100",
                lambda: closed_loop(args.target, port, args.token, 100, args.connections, args.seconds),
            ),
            ("single", lambda: closed_loop(args.target, port, args.token, 1, args.connections, args.seconds)),
            (
                "fixed_rate",
                lambda: fixed_rate(args.target, port, args.token, args.rate, 64, args.seconds * 2),
            ),
        ]
        for name, phase in phases:
            cpu = CpuShare(proc.pid if proc is not None else None)
            results[name] = asyncio.run(phase()) | cpu.end()
            print(f"{name}: {results[name]}", flush=True)
        results["server_group_commit"] = server_batches(port)
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            results["server_exit"] = proc.wait(timeout=30)
    return results


def report(results: dict[str, Any]) -> Iterator[str]:
    b, s, f = results["batched_100"], results["single"], results["fixed_rate"]
    yield f"target {results['target']} (engine: {results['engine']}), {results['machine']}"
    yield f"batches of 100:     {b['alerts_per_second']:>7,} alerts/s  ({b['requests']} requests, {b['errors']} errors)"
    yield f"single-alert posts: {s['alerts_per_second']:>7,} alerts/s  ({s['requests']} requests, {s['errors']} errors)"
    yield (
        f"at {results['settings']['rate']:.0f}/s (achieved {f['achieved_per_second']}/s): p50 {f['p50_ms']} ms, "
        f"p99 {f['p99_ms']} ms, max {f['max_ms']} ms ({f['requests']} requests, {f['errors']} errors)"
    )
    yield (
        f"CPU during that phase: server {f.get('server_cpu_percent', '?')}%, load generator "
        f"{f['load_generator_cpu_percent']}%, everything else {f['other_cpu_percent']}% (of 100% per core)"
    )
    if results.get("server_group_commit"):
        yield f"server group commit: {results['server_group_commit']}"


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve-fake":
        serve_fake(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", choices=["tiation", "alertmanager"], default="tiation")
    parser.add_argument("--platform", type=Path, help="run `tiation -f FILE serve` (the real engine)")
    parser.add_argument("--token", default=TOKEN, help="bearer token of the generic intake")
    parser.add_argument("--url", help="an already running server, http://127.0.0.1:PORT")
    parser.add_argument("--commit-delay", type=float, default=0.0, help="fake engine: seconds per commit")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0)
    args = parser.parse_args()
    results = run(args)
    print()
    for line in report(results):
        print(line)
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = {"fake": "", "platform": "-platform"}.get(results["engine"], f"-{results['engine']}")
    (RESULTS / f"alert_intake{suffix}.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
