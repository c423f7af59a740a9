"""Intake fairness: how long a one-alert request waits while one huge authenticated request is committed.

Goal (issue 11): a concurrent small request's p99 wait behind a 16,000-alert request < 1 s (before slicing it
waited for the whole big transaction, ~9 s). The real `tiation serve` (real engine, SQLite state) runs in its
own process on loopback. Each round sends one request of `--big` new alerts to the generic intake and, from the
moment it is sent until it is answered, a one-alert request every `--every` seconds on other connections
(open loop: each small request's wait counts from when it was sent). Bounded: `--rounds` rounds, then it stops
the server and exits.

    .venv/bin/python bench/intake_fairness.py                     # this checkout
    .venv/bin/python bench/intake_fairness.py --src /work/main   # another checkout's code (the "before")

Raw figures go to bench/results/intake_fairness.json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _serve import serve_platform, stop

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
TOKEN = "bench-fairness-token"
_SEQ = itertools.count()

PLATFORM = """\
version: 1
project: {name: intake-fairness}
environments: {production: {target: fake}}
services: {cms: {port: 5000}}
alerting:
  intake:
    generic: {tokens_sha256: ["DIGEST"], max_body_bytes: 16777216}
  severities:
    warning: {channels: [], escalation_delay: none}
  default_severity: warning
"""


def alerts(n: int, groups: int = 40) -> dict[str, Any]:
    batch = []
    for _ in range(n):
        i = next(_SEQ)
        labels = {"alertname": f"Fair{i % groups}", "service": "cms", "instance": f"host-{i}"}
        batch.append({"labels": labels, "annotations": {"summary": f"alert {i}"}})
    return {"alerts": batch}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def one_round(base: str, big: int, every: float, groups: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = base + "/api/v1/intake/generic"
    body = json.dumps(alerts(big, groups)).encode()
    waits: list[float] = []
    timeline: list[tuple[float, float]] = []  # (sent, seconds after the big request was sent; wait)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def small() -> None:
            sent = time.perf_counter()
            response = await client.post(url, json=alerts(1), headers=headers)
            assert response.status_code == 202, response.text
            waits.append(time.perf_counter() - sent)
            timeline.append((round(sent - started, 3), round(waits[-1], 3)))

        async def send_big() -> float:
            sent = time.perf_counter()
            response = await client.post(
                url, content=body, headers={**headers, "Content-Type": "application/json"}
            )
            assert response.status_code == 202, response.text
            assert response.json()["received"] == big
            return time.perf_counter() - sent

        started = time.perf_counter()
        big_task = asyncio.create_task(send_big())
        smalls: list[asyncio.Task[None]] = []
        while not big_task.done():
            smalls.append(asyncio.create_task(small()))
            await asyncio.sleep(every)
        await asyncio.gather(*smalls)
        big_seconds = big_task.result()
    return {"big_seconds": big_seconds, "small_waits": waits, "timeline": sorted(timeline)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--big", type=int, default=16_000, help="alerts in the big request")
    parser.add_argument("--every", type=float, default=0.05, help="seconds between small requests")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--incidents",
        type=int,
        default=40,
        help="distinct alert names in the big request (each opens an incident)",
    )
    parser.add_argument("--src", type=Path, help="run the server from this checkout's src/ (e.g. main)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tiation-fairness-") as tmp:
        text = PLATFORM.replace("DIGEST", hashlib.sha256(TOKEN.encode()).hexdigest())
        proc, port = serve_platform(Path(tmp), text, src=args.src)
        try:
            rounds = [
                asyncio.run(one_round(f"http://127.0.0.1:{port}", args.big, args.every, args.incidents))
                for _ in range(args.rounds)
            ]
        finally:
            stop(proc)
    waits = [w for r in rounds for w in r["small_waits"]]
    summary = {
        "code": str(args.src or REPO),
        "big_alerts": args.big,
        "incidents_per_round": args.incidents,
        "rounds": args.rounds,
        "big_seconds": [round(r["big_seconds"], 3) for r in rounds],
        "small_requests": len(waits),
        "small_wait_p50_ms": round(percentile(waits, 0.50) * 1000, 1),
        "small_wait_p99_ms": round(percentile(waits, 0.99) * 1000, 1),
        "small_wait_max_ms": round(max(waits, default=0.0) * 1000, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "intake_fairness.json").write_text(json.dumps({**summary, "raw": rounds}, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
