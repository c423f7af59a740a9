"""Notification latency and escalation-timer lateness of `tiation serve`, across restarts (issue 4, "Measure").

The real CLI (`tiation -f FILE serve`) runs as a subprocess on a generated platform file in a temp dir (SQLite
state, a free loopback port). This process runs the webhook receiver the `webhook` notifier calls (signed JSON;
URL and secret reach the server as `env:` references); it records each page's arrival (time.monotonic and
time.time) and idempotency key, and checks every signature. The load generator is this script re-run as a
separate process (`--loadgen SPEC`), posting to the generic intake over raw HTTP/1.1.

1. **Notify latency** (goal: p99 < 1 s). `--alerts` distinct alerts at `--rate` per second, then a burst of
   `--burst` alerts posted at once on 50 connections. Each alert's severity has the webhook as its channel and
   no escalation, so the "channels" step is due at once. Latency = receiver arrival - just before the POST.
   The same load goes into a real Alertmanager's API (`/api/v2/alerts`, group_by ['...'], group_wait 0s,
   a webhook receiver here) for figures next to ours (`--no-alertmanager` skips it).
2. **Escalation soak** (`--soak-minutes`, default 10). `--soak-rate` incidents per second, each routed to one
   of four policies whose steps fall due 5-40 s apart over several rounds; `--ack-fraction` of them are
   acknowledged through the management API at a random point of their plan. The server is stopped with
   SIGTERM and started again (down 3, 5, 8 s; up at least 10 s in between) `--restarts` times. At the end
   `tiation alerts list --all --json` gives each incident's open time, hence every step's due time (due
   times follow the plan);
   `tiation alerts show ID --json` gives the stored due_at / state / fired_at of every acknowledged incident,
   of every incident with an unreceived step, and of a `--verify-sample` of the others (checked against the
   plan). Lateness = receiver arrival - due time, reported for steps due while the server was up (goal
   <= 1 s) and for steps due while it was down, as catch-up after the restart (arrival - max(due, the new
   process's start); goal <= 5 s). Duplicates (a key received twice) and missing steps (fired or never
   cancelled, yet never received) must be 0.

Usage:

    .venv/bin/python bench/alert_notify.py --soak-minutes 1        # a quick try (~4 minutes)
    .venv/bin/python bench/alert_notify.py                         # the full run (~15 minutes)
    .venv/bin/python bench/alert_notify.py --skip-soak             # notify latency only

A summary table with the goals is printed; raw figures (every latency, every step's due, fired and arrival
time, the server's start/stop times) go to bench/results/alert_notify.json (or `--out FILE`). `--keep` keeps the
temp dir (platform file, server.log, SQLite state). Other load on the machine skews every figure: the JSON
records the CPU used by the server, this process and everything else during each phase.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _serve import free_port, wait_ready
from alert_intake import ALERTMANAGER, Connection, CpuShare, quantile

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
TIATION = str(Path(sys.executable).with_name("tiation"))
TOKEN = "bench-notify-intake-token"
API_TOKEN = "bench-notify-api-token"
NOTIFIER = "hook"
# Soak policies: (person, wait in seconds) per step, and how many more rounds. Every incident also has the
# severity's channels step (ordinal 0), due when it opens, like the first policy step.
PLANS: dict[str, tuple[list[tuple[str, int]], int]] = {
    "fast": ([("ann", 5), ("bob", 9)], 3),
    "mid": ([("ann", 13), ("bob", 21), ("cid", 8)], 1),
    "slow": ([("ann", 40), ("bob", 23), ("cid", 11)], 0),
    "odd": ([("cid", 7)], 6),
}
DOWN_SECONDS = (3.0, 5.0, 8.0)
MIN_UP_SECONDS = 10.0  # between a restart and the next stop (short soaks would otherwise stop at once)
_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def plan_steps(plan: str) -> list[tuple[int, str | None, float]]:
    """(ordinal, person or None for the channel, due offset in seconds) of every step of a soak incident."""
    steps, rounds = PLANS[plan]
    out: list[tuple[int, str | None, float]] = [(0, None, 0.0)]
    due = 0.0
    for _ in range(rounds + 1):
        for person, wait in steps:
            out.append((len(out), person, due))
            due += wait
    return out


def step_key(incident: str, ordinal: int, person: str | None) -> str:
    return f"{incident}:step{ordinal}:{NOTIFIER}:{person or '-'}"


def platform_document() -> dict[str, Any]:
    """The platform file (JSON is YAML): a webhook notifier, a generic intake, the soak policies."""
    policies = {
        name: {
            "steps": [{"notify": [{"person": p, "via": [NOTIFIER]}], "wait": f"{w}s"} for p, w in steps],
            "repeat": rounds,
        }
        for name, (steps, rounds) in PLANS.items()
    }
    return {
        "version": 1,
        "project": {"name": "bench-notify"},
        "environments": {"production": {"target": "fake"}},
        "services": {"cms": {"port": 5000}},
        "server": {"api_tokens_sha256": {"bench": sha(API_TOKEN)}},
        "people": {p: {"name": p.title(), "email": f"{p}@example.com"} for p in ("ann", "bob", "cid")},
        "notifiers": {
            NOTIFIER: {
                "kind": "webhook",
                "url": "env:BENCH_HOOK_URL",
                "secret": "env:BENCH_HOOK_SECRET",
                "timeout": "5s",
            }
        },
        "alerting": {
            "intake": {"generic": {"tokens_sha256": [sha(TOKEN)]}},
            "group_by": ["alertname", "service", "instance"],
            "severities": {
                "page": {"channels": [NOTIFIER], "escalation_delay": "none"},
                "soak": {"channels": [NOTIFIER], "escalation_delay": "10s"},
            },
            "default_severity": "page",
            "policies": policies,
            "routes": [{"match": {"plan": name}, "policy": name} for name in PLANS],
        },
    }


# --- the receiver and the servers ------------------------------------------------------------------------


class Receiver:
    """The webhook endpoint (tiation's notifier on /hook, Alertmanager on /am): records every arrival."""

    def __init__(self, secret: str) -> None:
        from tiation.alerting.notifiers.webhook import SIGNATURE_HEADER, verify

        self.pages: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.last_arrival = time.monotonic()
        lock = threading.Lock()
        me = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # the answer in one write (else Nagle + delayed ACK add 40 ms to each send)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                wall, mono = time.time(), time.monotonic()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                doc = json.loads(body)
                rows = []
                if self.path == "/hook":
                    if not verify(secret, body, self.headers.get(SIGNATURE_HEADER, "")):
                        me.bad_signatures += 1
                    rows.append(
                        {"source": "tiation", "key": doc["key"], "event": doc["event"]}
                        | {"instance": doc["labels"].get("instance"), "wall": wall, "mono": mono}
                    )
                else:
                    for alert in doc.get("alerts", []):
                        rows.append(
                            {"source": "alertmanager", "key": None, "event": alert.get("status")}
                            | {"instance": alert["labels"].get("instance"), "wall": wall, "mono": mono}
                        )
                with lock:
                    me.pages.extend(rows)
                    me.last_arrival = mono

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def first_arrivals(self, source: str) -> dict[str, dict[str, Any]]:
        """instance -> its first page from `source`."""
        out: dict[str, dict[str, Any]] = {}
        for page in list(self.pages):
            if page["source"] == source and page["instance"] not in out:
                out[page["instance"]] = page
        return out


class TiationServer:
    """`tiation -f FILE serve` on a fixed port; remembers when each run started, was ready, was stopped."""

    def __init__(self, work: Path, port: int, env: dict[str, str]) -> None:
        self.work, self.port, self.env = work, port, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.history: list[dict[str, Any]] = []

    def cli(self, *args: str) -> list[str]:
        return [TIATION, "-f", str(self.work / "tiation.yaml"), *args]

    def start(self) -> None:
        spawned = time.time()
        with (self.work / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(
                self.cli("serve", "--port", str(self.port), "--no-access-log"),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.work,
                env=self.env,
                start_new_session=True,
            )
        wait_ready(self.proc, f"http://127.0.0.1:{self.port}/healthz", self.work / "server.log")
        self.history.append({"spawned": spawned, "ready": time.time(), "pid": self.proc.pid})

    def stop(self) -> None:
        assert self.proc is not None
        sent = time.time()
        os.killpg(self.proc.pid, signal.SIGTERM)
        code = self.proc.wait(timeout=90)
        self.history[-1].update(stop_sent=sent, exited=time.time(), exit_code=code)
        self.proc = None


def start_alertmanager(work: Path, receiver_port: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = work / "alertmanager.yml"
    route = {"receiver": "bench", "group_by": ["..."], "group_wait": "0s", "group_interval": "1s"}
    hook = {"url": f"http://127.0.0.1:{receiver_port}/am", "send_resolved": False}
    config.write_text(
        json.dumps({"route": route, "receivers": [{"name": "bench", "webhook_configs": [hook]}]})
    )
    argv = [
        ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={work / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with (work / "alertmanager.log").open("ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=work, start_new_session=True)
    wait_ready(proc, f"http://127.0.0.1:{port}/-/ready", work / "alertmanager.log")
    return proc, port


# --- the load generator (a separate process) -------------------------------------------------------------


class BodyConnection(Connection):
    """alert_intake's keep-alive connection, also returning the response body."""

    @classmethod
    async def open(cls, port: int) -> BodyConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def call_body(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        match = _LENGTH.search(head)
        body = await self.reader.readexactly(int(match.group(1))) if match else b""
        return int(head[9:12]), body


def http_post(port: int, path: str, doc: Any, token: str | None) -> bytes:
    body = json.dumps(doc).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
    )
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    return head.encode() + b"\r\n" + body


def notify_request(target: str, port: int, instance: str) -> bytes:
    labels = {"alertname": "NotifyBench", "service": "cms", "instance": instance, "severity": "page"}
    alert = {"labels": labels, "annotations": {"summary": "notify latency"}}
    if target == "alertmanager":
        return http_post(port, "/api/v2/alerts", [alert], None)
    return http_post(port, "/api/v1/intake/generic", alert, TOKEN)


async def notify_load(spec: dict[str, Any]) -> dict[str, Any]:
    """`alerts` single-alert posts at `rate`/s (open loop), a pause, then `burst` posts at once."""
    port, target, tag = spec["port"], spec["target"], spec["tag"]
    pool: asyncio.Queue[BodyConnection] = asyncio.Queue()
    posts: list[dict[str, Any]] = []

    async def fill(size: int) -> None:  # fresh connections: the server drops idle ones after 5 s
        while not pool.empty():
            pool.get_nowait().close()
        for _ in range(size):
            pool.put_nowait(await BodyConnection.open(port))

    async def post(instance: str, phase: str) -> None:
        conn = await pool.get()
        raw = notify_request(target, port, instance)
        posted = time.monotonic()
        status, _ = await conn.call_body(raw)
        posts.append({"instance": instance, "phase": phase, "posted": posted, "status": status})
        posts[-1]["answered"] = time.monotonic()
        pool.put_nowait(conn)

    await fill(8)
    tasks = []
    started = time.monotonic()
    for i in range(spec["alerts"]):
        await asyncio.sleep(max(0.0, started + i / spec["rate"] - time.monotonic()))
        tasks.append(asyncio.create_task(post(f"{tag}-steady-{i:05d}", "steady")))
    await asyncio.gather(*tasks)
    await asyncio.sleep(3.0)
    await fill(50)
    burst_at = time.monotonic()
    await asyncio.gather(*(post(f"{tag}-burst-{i:05d}", "burst") for i in range(spec["burst"])))
    while not pool.empty():
        pool.get_nowait().close()
    return {"posts": posts, "burst_at": burst_at}


async def robust_post(port: int, raw: bytes, give_up: float) -> tuple[int, bytes, int]:
    """Post on a fresh connection, retrying while the server is down or busy: (status, body, attempts)."""
    attempts = 0
    while True:
        attempts += 1
        status, body = 0, b""
        try:
            conn = await BodyConnection.open(port)
            try:
                status, body = await asyncio.wait_for(conn.call_body(raw), 30)
            finally:
                conn.close()
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            pass
        if status not in (0, 503) or time.monotonic() > give_up:
            return status, body, attempts
        await asyncio.sleep(0.25)


async def soak_load(spec: dict[str, Any]) -> dict[str, Any]:
    """Open `rate` incidents per second for `seconds` (retrying through restarts); acknowledge some."""
    port, rate, names = spec["port"], spec["rate"], sorted(PLANS)
    incidents: list[dict[str, Any]] = []
    tasks: list[asyncio.Task[None]] = []

    async def one(i: int) -> None:
        rng = random.Random(spec["seed"] * 1_000_003 + i)
        plan = names[i % len(names)]
        labels = {"alertname": "SoakBench", "service": "cms", "instance": f"soak-{i:05d}"}
        labels |= {"severity": "soak", "plan": plan}
        row: dict[str, Any] = {"instance": labels["instance"], "plan": plan, "posted": time.time()}
        incidents.append(row)
        raw = http_post(port, "/api/v1/intake/generic", {"labels": labels}, TOKEN)
        status, body, attempts = await robust_post(port, raw, time.monotonic() + 120)
        row |= {"status": status, "accepted": time.time(), "attempts": attempts}
        ids = json.loads(body).get("incidents", []) if status == 202 else []
        row["incident"] = ids[0] if ids else None
        if row["incident"] is None or rng.random() >= spec["ack_fraction"]:
            return
        span = plan_steps(plan)[-1][2]
        delay = rng.uniform(2.0, span + 3.0)
        await asyncio.sleep(max(0.0, row["accepted"] + delay - time.time()))
        row["ack_sent"] = time.time()
        ack = http_post(port, f"/api/v1/incidents/{row['incident']}/ack", {}, API_TOKEN)
        status, _, attempts = await robust_post(port, ack, time.monotonic() + 120)
        row |= {"ack_status": status, "ack_done": time.time(), "ack_attempts": attempts}

    started = time.monotonic()
    for i in range(int(rate * spec["seconds"])):
        await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return {"incidents": incidents}


def run_loadgen(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    result = asyncio.run(notify_load(spec) if spec["mode"] == "notify" else soak_load(spec))
    Path(spec["out"]).write_text(json.dumps(result))


def loadgen(work: Path, name: str, spec: dict[str, Any]) -> tuple[subprocess.Popen[bytes], Path]:
    out = work / f"loadgen-{name}.out.json"
    path = work / f"loadgen-{name}.json"
    path.write_text(json.dumps(spec | {"out": str(out)}))
    return subprocess.Popen([sys.executable, __file__, "--loadgen", str(path)], cwd=work), out


# --- phase 1: notify latency -----------------------------------------------------------------------------


def stats(values: list[float], unit: float = 1.0) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    scaled = [v * unit for v in values]
    return {
        "n": len(values),
        "p50": round(quantile(scaled, 0.50), 3),
        "p99": round(quantile(scaled, 0.99), 3),
        "max": round(max(scaled), 3),
    }


def cpu_end(cpu: CpuShare) -> dict[str, float]:
    """CPU % (of one core) over a phase: the server, this process (the receiver), everything else (the load
    generator, and whatever else runs on the machine)."""
    names = {"server": "server", "load_generator": "bench_receiver", "other": "other_incl_load_generator"}
    return {f"{names[k.removesuffix('_cpu_percent')]}_cpu_percent": v for k, v in cpu.end().items()}


def notify_phase(
    args: argparse.Namespace, work: Path, receiver: Receiver, port: int, target: str, pid: int
) -> dict[str, Any]:
    source = "tiation" if target == "tiation" else "alertmanager"
    spec: dict[str, Any] = {"mode": "notify", "target": target, "port": port, "tag": target[0]}
    spec |= {"alerts": args.alerts, "rate": args.rate, "burst": args.burst}
    cpu = CpuShare(pid)
    proc, out = loadgen(work, f"notify-{target}", spec)
    if proc.wait() != 0:
        raise SystemExit(f"the {target} load generator failed")
    data = json.loads(out.read_text())
    posts = data["posts"]
    deadline = time.monotonic() + 60
    while len(receiver.first_arrivals(source).keys() & {p["instance"] for p in posts}) < len(posts):
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    time.sleep(1.0)
    usage = cpu_end(cpu)
    arrivals = receiver.first_arrivals(source)
    result: dict[str, Any] = {"target": target, "cpu": usage}
    for phase in ("steady", "burst"):
        mine = [p for p in posts if p["phase"] == phase]
        got = [p for p in mine if p["instance"] in arrivals]
        lat = [arrivals[p["instance"]]["mono"] - p["posted"] for p in got]
        answers = [p["answered"] - p["posted"] for p in mine]
        result[phase] = {
            "latency_s": stats(lat),
            "intake_answer_ms": stats(answers, 1000),
            "posted": len(mine),
            "not_accepted": sum(not 200 <= p["status"] < 300 for p in mine),
            "never_paged": len(mine) - len(got),
            "raw_latency_ms": [round(v * 1000, 2) for v in lat],
        }
        if phase == "burst" and got:
            result[phase]["last_page_after_burst_start_s"] = round(
                max(arrivals[p["instance"]]["mono"] for p in got) - data["burst_at"], 3
            )
    keys = Counter(
        page["key"] or page["instance"]
        for page in receiver.pages
        if page["source"] == source and str(page["instance"]).startswith(spec["tag"] + "-")
    )
    result["duplicates"] = sum(n - 1 for n in keys.values())
    print(f"notify ({target}): steady {result['steady']['latency_s']}, burst {result['burst']['latency_s']}")
    return result


# --- phase 2: the escalation soak ------------------------------------------------------------------------


def soak_phase(args: argparse.Namespace, server: TiationServer, receiver: Receiver) -> dict[str, Any]:
    seconds = args.soak_minutes * 60
    spec: dict[str, Any] = {"mode": "soak", "port": server.port, "rate": args.soak_rate, "seconds": seconds}
    spec |= {"seed": args.seed, "ack_fraction": args.ack_fraction}
    began = time.time()
    cpu = CpuShare(None)  # the server restarts (new pids): its share is in "other" here
    first_run = len(server.history) - 1
    proc, out = loadgen(server.work, "soak", spec)
    for r in range(args.restarts):
        due = max(began + seconds * (r + 0.5) / args.restarts, server.history[-1]["ready"] + MIN_UP_SECONDS)
        time.sleep(max(0.0, due - time.time()))
        server.stop()
        print(f"restart {r + 1}: stopped (exit {server.history[-1]['exit_code']})", flush=True)
        time.sleep(DOWN_SECONDS[r % len(DOWN_SECONDS)])
        server.start()
    if proc.wait() != 0:
        raise SystemExit("the soak load generator failed")
    opened = json.loads(out.read_text())["incidents"]
    last_due = max((o["accepted"] + plan_steps(o["plan"])[-1][2] for o in opened), default=time.time())
    time.sleep(max(0.0, last_due + 5 - time.time()))
    quiet_by = time.monotonic() + 60
    while time.monotonic() - receiver.last_arrival < 3 and time.monotonic() < quiet_by:
        time.sleep(0.2)
    usage = cpu_end(cpu)
    server.stop()
    result = analyse_soak(args, server, receiver, opened, server.history[first_run:])
    result["cpu"] = usage | {"note": "other includes the tiation servers"}
    return result


def cli_json(server: TiationServer, *args: str) -> Any:
    done = subprocess.run(
        server.cli(*args, "--json"), cwd=server.work, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"tiation {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def epoch(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def classify(due: float, runs: list[dict[str, Any]]) -> tuple[str, float | None]:
    """'up' if the server was up (ready, not yet told to stop) at `due`; else 'down' and the next start."""
    for run in runs:
        if run["ready"] <= due < run.get("stop_sent", float("inf")):
            return "up", None
    later = [run["spawned"] for run in runs if run["ready"] > due]
    return "down", (min(later) if later else None)


def analyse_soak(
    args: argparse.Namespace,
    server: TiationServer,
    receiver: Receiver,
    opened: list[dict[str, Any]],
    runs: list[dict[str, Any]],
) -> dict[str, Any]:
    plans = {o["instance"]: o["plan"] for o in opened}
    listed = cli_json(server, "alerts", "list", "--all", "--limit", "1000000")
    incidents = {i["id"]: i for i in listed if i["labels"].get("instance") in plans}
    arrivals: dict[str, list[dict[str, Any]]] = {}
    for page in receiver.pages:
        if page["source"] == "tiation" and str(page["instance"]).startswith("soak-"):
            arrivals.setdefault(page["key"], []).append(page)
    planned = {
        iid: [(o, p, epoch(i["opened_at"]) + off) for o, p, off in plan_steps(plans[i["labels"]["instance"]])]
        for iid, i in incidents.items()
    }
    unreceived = {
        iid for iid, steps in planned.items() if any(step_key(iid, o, p) not in arrivals for o, p, _ in steps)
    }
    others = sorted(
        set(incidents) - unreceived - {k for k, i in incidents.items() if i["state"] != "triggered"}
    )
    sample = random.Random(args.seed).sample(others, min(args.verify_sample, len(others)))
    to_show = sorted(
        unreceived | {k for k, i in incidents.items() if i["state"] != "triggered"} | set(sample)
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        details = list(pool.map(lambda iid: cli_json(server, "alerts", "show", iid), to_show))
    shown = dict(zip(to_show, details, strict=True))
    rows: list[dict[str, Any]] = []
    missing, cancelled_received, due_mismatch, server_late = [], [], 0, []
    for iid, steps in planned.items():
        stored = {s["ordinal"]: s for s in shown[iid]["steps"]} if iid in shown else {}
        for ordinal, person, due in steps:
            key = step_key(iid, ordinal, person)
            state, got, fired = "fired?", arrivals.get(key, []), None
            if ordinal in stored:
                s = stored[ordinal]
                state = s["state"]
                due_mismatch += abs(epoch(s["due_at"]) - due) > 0.001
                due = epoch(s["due_at"])
                fired = epoch(s["fired_at"]) if s["fired_at"] else None
                if fired is not None and classify(due, runs)[0] == "up":
                    server_late.append(fired - due)
            if state == "cancelled":
                if got:
                    cancelled_received.append(key)
                continue
            if not got:
                missing.append({"key": key, "state": state, "due": due, "class": classify(due, runs)[0]})
                continue
            kind, restart = classify(due, runs)
            arrival = got[0]["wall"]
            row = {"key": key, "plan": plans[incidents[iid]["labels"]["instance"]], "class": kind}
            row |= {"due": round(due, 3), "arrival": round(arrival, 3), "lateness": round(arrival - due, 3)}
            row["fired"] = round(fired, 3) if fired is not None else None
            if kind == "down" and restart is not None:
                row["catch_up"] = round(arrival - max(due, restart), 3)
            rows.append(row)
    soak_keys = Counter(
        p["key"]
        for p in receiver.pages
        if p["source"] == "tiation" and str(p["instance"]).startswith("soak-")
    )
    dups = {k: n for k, n in soak_keys.items() if n > 1}
    acks = [o for o in opened if "ack_sent" in o]
    up = [r["lateness"] for r in rows if r["class"] == "up"]
    down = [r for r in rows if r["class"] == "down"]
    return {
        "incidents_opened": len(opened),
        "incidents_found": len(incidents),
        "open_failures": sum(o.get("status") != 202 for o in opened),
        "acknowledged": len(acks),
        "ack_failures": sum(o.get("ack_status") != 200 for o in acks),
        "steps_received": len(rows),
        "lateness_up_s": stats(up),
        "lateness_down_from_due_s": stats([r["lateness"] for r in down]),
        "catch_up_after_restart_s": stats([r["catch_up"] for r in down if "catch_up" in r]),
        "server_fired_lateness_up_s": stats(server_late),
        "server_start_s": stats([r["ready"] - r["spawned"] for r in runs]),
        "duplicates": sum(n - 1 for n in dups.values()),
        "duplicate_keys": sorted(dups)[:50],
        "missing": len(missing),
        "missing_steps": missing[:50],
        "cancelled_but_received": len(cancelled_received),
        "shown_incidents": len(shown),
        "due_at_differs_from_plan": due_mismatch,
        "follow_ups_received": sum(1 for k in soak_keys if ":step" not in k),
        "server_runs": runs,
        "raw_steps": {
            "columns": ["key", "plan", "class", "due", "arrival", "lateness", "catch_up", "fired_at"],
            "rows": [
                [
                    r["key"],
                    r["plan"],
                    r["class"],
                    r["due"],
                    r["arrival"],
                    r["lateness"],
                    r.get("catch_up"),
                    r["fired"],
                ]
                for r in rows
            ],
        },
    }


# --- the run and its summary -----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="tiation-bench-notify-"))
    secret = secrets.token_urlsafe(32)
    receiver = Receiver(secret)
    (work / "tiation.yaml").write_text(json.dumps(platform_document(), indent=2) + "\n")
    env = dict(os.environ, BENCH_HOOK_URL=f"http://127.0.0.1:{receiver.port}/hook", BENCH_HOOK_SECRET=secret)
    server = TiationServer(work, free_port(), env)
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} CPU, {platform.platform()}, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average_at_start": os.getloadavg(),
        "settings": {k: v for k, v in vars(args).items() if k not in ("keep", "out")},
        "work": str(work),
    }
    server.start()
    try:
        if not args.skip_notify:
            assert server.proc is not None
            results["notify_tiation"] = notify_phase(
                args, work, receiver, server.port, "tiation", server.proc.pid
            )
            if not args.no_alertmanager and Path(ALERTMANAGER).exists():
                am, am_port = start_alertmanager(work, receiver.port)
                try:
                    results["notify_alertmanager"] = notify_phase(
                        args, work, receiver, am_port, "alertmanager", am.pid
                    )
                finally:
                    os.killpg(am.pid, signal.SIGTERM)
                    am.wait(timeout=30)
        if not args.skip_soak:
            results["soak"] = soak_phase(args, server, receiver)
    finally:
        if server.proc is not None:
            server.stop()
    log = (work / "server.log").read_text(errors="replace")
    results["server_exit_codes"] = [r.get("exit_code") for r in server.history]
    results["server_log_problems"] = [
        line for line in log.splitlines() if " WARNING " in line or " ERROR " in line or "Traceback" in line
    ][:50]
    results["bad_signatures"] = receiver.bad_signatures
    results["load_average_at_end"] = os.getloadavg()
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return results


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def summary(results: dict[str, Any]) -> list[str]:
    rows: list[list[str]] = []

    def add(name: str, s: dict[str, Any], goal: str, ok: bool | None) -> None:
        cells = [str(s.get(k, "-")) for k in ("n", "p50", "p99", "max")]
        rows.append([name, *cells, goal, "-" if ok is None else verdict(ok)])

    for target in ("tiation", "alertmanager"):
        n = results.get(f"notify_{target}")
        if n is None:
            continue
        for phase in ("steady", "burst"):
            s = n[phase]["latency_s"]
            goal = "p99 < 1 s" if target == "tiation" else "(comparison)"
            add(
                f"notify {phase}, {target} (s)",
                s,
                goal,
                s.get("p99", 99) < 1 if target == "tiation" else None,
            )
    soak = results.get("soak")
    if soak:
        up, catch = soak["lateness_up_s"], soak["catch_up_after_restart_s"]
        add("lateness, due while up (s)", up, "max <= 1 s", up.get("max", 99) <= 1)
        add("  timer only: fired_at - due", soak["server_fired_lateness_up_s"], "(sample)", None)
        add("lateness, due while down (s)", soak["lateness_down_from_due_s"], "(from due)", None)
        add("catch-up after restart (s)", catch, "max <= 5 s", catch.get("max", 99) <= 5)
        add("  server start -> /healthz ok", soak["server_start_s"], "(part of it)", None)
    width = [
        max(len(r[i]) for r in [["measure", "n", "p50", "p99", "max", "goal", "met"], *rows])
        for i in range(7)
    ]
    head = ["measure", "n", "p50", "p99", "max", "goal", "met"]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, width, strict=True)) for line in [head, *rows]]
    counts = []
    if "notify_tiation" in results:
        n = results["notify_tiation"]
        lost = n["steady"]["never_paged"] + n["burst"]["never_paged"]
        counts.append(
            (f"notify: alerts never paged {lost}, duplicates {n['duplicates']}", lost + n["duplicates"] == 0)
        )
    if soak:
        counts += [
            (f"soak: duplicate pages {soak['duplicates']}", soak["duplicates"] == 0),
            (f"soak: missing steps {soak['missing']}", soak["missing"] == 0),
            (f"soak: cancelled steps received {soak['cancelled_but_received']}", soak["cancelled_but_received"] == 0),
            (f"soak: incidents not opened {soak['open_failures']}, acks failed {soak['ack_failures']}",
             soak["open_failures"] + soak["ack_failures"] == 0),
        ]  # fmt: skip
    codes = results["server_exit_codes"]
    counts.append((f"server exit codes on SIGTERM {codes}", all(c == 0 for c in codes)))
    counts.append((f"bad webhook signatures {results['bad_signatures']}", results["bad_signatures"] == 0))
    lines += [f"{text:<70} goal met: {verdict(ok)}" for text, ok in counts]
    if soak:
        lines.append(
            f"soak: {soak['incidents_opened']} incidents, {soak['acknowledged']} acknowledged, "
            f"{soak['steps_received']} steps received, {len(soak['server_runs']) - 1} restarts, "
            f"{soak['shown_incidents']} incidents checked with `alerts show` "
            f"({soak['due_at_differs_from_plan']} due times differing from the plan)"
        )
    cpu = results.get("notify_tiation", {}).get("cpu", {})
    lines.append(
        f"CPU (% of one core, {os.cpu_count()} cores): notify phase server {cpu.get('server_cpu_percent', '-')}, "
        f"everything else {cpu.get('other_incl_load_generator_cpu_percent', '-')}; soak, whole machine "
        f"{(soak or {}).get('cpu', {}).get('other_incl_load_generator_cpu_percent', '-')}; load average at start "
        f"{results['load_average_at_start'][0]:.2f}, at end {results['load_average_at_end'][0]:.2f}"
    )
    if results["server_log_problems"]:
        lines.append(f"server log: {len(results['server_log_problems'])} warning/error lines (see the JSON)")
    return lines


def dump(results: dict[str, Any]) -> str:
    """JSON with the figures indented and the raw series (keys `raw_*`, moved under "raw") one line each."""
    raw: dict[str, Any] = {}

    def strip(node: dict[str, Any], path: str) -> dict[str, Any]:
        out = {}
        for key, value in node.items():
            if key.startswith("raw_"):
                raw[f"{path}{key[4:]}"] = value
            else:
                out[key] = strip(value, f"{path}{key}.") if isinstance(value, dict) else value
        return out

    text = json.dumps(strip(results, ""), indent=2)
    series = ",\n".join(
        f"    {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in raw.items()
    )
    return text[:-2] + (',\n  "raw": {\n' + series + "\n  }" if raw else "") + "\n}\n"


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--loadgen":
        run_loadgen(sys.argv[2])
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=500, help="notify phase: alerts at the steady rate")
    parser.add_argument("--rate", type=float, default=20.0, help="notify phase: alerts per second")
    parser.add_argument("--burst", type=int, default=200, help="notify phase: alerts posted at once")
    parser.add_argument("--soak-minutes", type=float, default=10.0)
    parser.add_argument("--soak-rate", type=float, default=1.0, help="incidents opened per second")
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--ack-fraction", type=float, default=0.25)
    parser.add_argument("--verify-sample", type=int, default=30, help="unacknowledged incidents to `show`")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--no-alertmanager", action="store_true")
    parser.add_argument("--skip-notify", action="store_true")
    parser.add_argument("--skip-soak", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--out", type=Path, default=RESULTS / "alert_notify.json", help="where the JSON goes")
    args = parser.parse_args()
    results = run(args)
    lines = summary(results)
    print()
    print("\n".join(lines))
    results["summary"] = lines
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dump(results))
    print(f"raw figures: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
