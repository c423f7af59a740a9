"""Slow unauthenticated senders: server memory, and whether a legitimate alert still gets through.

Goal (issue 11): 150 slow clients each sending a 1 MiB body that carries only a signature header (so the server
must read it before it can check it) grow the server's RSS by < 32 MB, and a legitimate (bearer) alert sent
meanwhile still gets 202 in < 1 s. The real `tiation serve` (real engine, SQLite) runs in its own process on
loopback; this process opens `--clients` connections at once, each sending headers with a (wrong) signature and
`Content-Length: 1 MiB`, then the body in pieces spread over `--seconds`; a bearer alert is posted every
0.25 s throughout. The server's RSS is sampled from /proc every 50 ms. Bounded: the run ends `--seconds` + 15 s
after it started at the latest, stops the server and exits.

    .venv/bin/python bench/intake_slow_clients.py                     # this checkout
    .venv/bin/python bench/intake_slow_clients.py --src /work/main   # another checkout's code (the "before")

Raw figures go to bench/results/intake_slow_clients.json.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from _serve import serve_platform, stop

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
TOKEN = "bench-slow-token"
MIB = 1 << 20

PLATFORM = """\
version: 1
project: {name: intake-slow-clients}
environments: {production: {target: fake}}
services: {cms: {port: 5000}}
alerting:
  intake:
    generic: {tokens_sha256: ["DIGEST"], hmac_secret: "env:BENCH_SLOW_HMAC", max_body_bytes: 2097152}
  severities:
    warning: {channels: [], escalation_delay: none}
  default_severity: warning
"""


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def request_head(length: int, headers: dict[str, str]) -> bytes:
    lines = ["POST /api/v1/intake/generic HTTP/1.1", "Host: bench", "Content-Type: application/json"]
    lines += [f"Content-Length: {length}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def status_of(reader: asyncio.StreamReader) -> str:
    try:
        line = await reader.readline()
    except (ConnectionError, OSError):
        return "reset"
    parts = line.split()
    return parts[1].decode() if len(parts) > 1 else "closed"


async def slow_client(port: int, seconds: float, outcomes: collections.Counter[str]) -> None:
    """One sender: signature headers only (not a valid one), then 1 MiB spread over `seconds`."""
    stamp = str(int(time.time()))
    headers = {"X-Tiation-Timestamp": stamp, "X-Tiation-Signature": "sha256=" + "0" * 64}
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.create_task(status_of(reader))
    pieces = 32
    piece = b" " * (MIB // pieces)
    try:
        writer.write(request_head(MIB, headers))
        await writer.drain()
        for _ in range(pieces):
            if answer.done():
                break
            writer.write(piece)
            await writer.drain()
            await asyncio.wait([answer], timeout=seconds / pieces)
        outcomes[await asyncio.wait_for(answer, timeout=15)] += 1
    except (ConnectionError, OSError):
        outcomes["reset"] += 1
    except TimeoutError:
        outcomes["no answer"] += 1
    finally:
        answer.cancel()
        writer.close()


async def legitimate(
    port: int, until: float, latencies: list[float], statuses: collections.Counter[str]
) -> None:
    """A bearer-authenticated alert every 0.25 s on a fresh connection, timed from send to answer."""
    n = 0
    while time.monotonic() < until:
        n += 1
        body = json.dumps({"labels": {"alertname": "Legit", "n": str(n)}}).encode()
        sent = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request_head(len(body), {"Authorization": f"Bearer {TOKEN}"}) + body)
            await writer.drain()
            statuses[await asyncio.wait_for(status_of(reader), timeout=10)] += 1
            writer.close()
        except (OSError, TimeoutError):
            statuses["failed"] += 1
        latencies.append(time.monotonic() - sent)
        await asyncio.sleep(0.25)


async def sample_rss(pid: int, until: float, samples: list[int]) -> None:
    while time.monotonic() < until:
        samples.append(rss_bytes(pid))
        await asyncio.sleep(0.05)


async def run(pid: int, port: int, clients: int, seconds: float) -> dict[str, Any]:
    outcomes: collections.Counter[str] = collections.Counter()
    statuses: collections.Counter[str] = collections.Counter()
    latencies: list[float] = []
    samples: list[int] = []
    baseline = rss_bytes(pid)
    end = time.monotonic() + seconds + 2
    sampler = asyncio.create_task(sample_rss(pid, end + 1, samples))
    legit = asyncio.create_task(legitimate(port, end, latencies, statuses))
    await asyncio.wait_for(
        asyncio.gather(*(slow_client(port, seconds, outcomes) for _ in range(clients))), seconds + 13
    )
    await legit
    await sampler
    ordered = sorted(latencies)
    return {
        "clients": clients,
        "seconds": seconds,
        "slow_client_answers": dict(outcomes),
        "rss_baseline_mb": round(baseline / MIB, 1),
        "rss_peak_growth_mb": round((max(samples, default=baseline) - baseline) / MIB, 1),
        "legit_answers": dict(statuses),
        "legit_p50_ms": round(ordered[len(ordered) // 2] * 1000, 1) if ordered else None,
        "legit_max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=150)
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="time each slow client takes to send 1 MiB"
    )
    parser.add_argument("--src", type=Path, help="run the server from this checkout's src/ (e.g. main)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tiation-slow-") as tmp:
        text = PLATFORM.replace("DIGEST", hashlib.sha256(TOKEN.encode()).hexdigest())
        proc, port = serve_platform(
            Path(tmp), text, env={"BENCH_SLOW_HMAC": "bench-slow-secret"}, src=args.src
        )
        try:
            time.sleep(1)  # let start-up allocations settle before the baseline
            summary = {
                "code": str(args.src or REPO),
                **asyncio.run(run(proc.pid, port, args.clients, args.seconds)),
            }
        finally:
            stop(proc)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "intake_slow_clients.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
