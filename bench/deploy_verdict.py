"""How fast a broken release is judged, and how fast the last-known-good serves again, on the local target.

Goals (issue: foundation): p95 <= 3 s from a broken version's start to the verdict for a process that exits at
start; otherwise the verdict within one probe interval after the failure threshold is reached.
Runs the real engine, real supervised processes and real HTTP probes; a client thread hits the service's public
port every 20 ms throughout and counts every request that did not get an answer from the last-known-good.

    .venv/bin/python bench/deploy_verdict.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _eco import copy_example, summary

from tiation.clock import SystemClock
from tiation.config.loader import load_platform
from tiation.deploy.engine import Engine
from tiation.deploy.targets import make_target
from tiation.state import StateStore, default_state_url


class Client(threading.Thread):
    """Requests the public port every 20 ms; counts answers that are not the expected version."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.expect = url, ""
        self.ok = self.bad = 0
        self.stop_flag = threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=2) as resp:
                    version = json.loads(resp.read())["version"]
                if version == self.expect:
                    self.ok += 1
                else:
                    self.bad += 1
            except OSError:
                self.bad += 1
            time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--runs", type=int, default=20, help="runs of the exit-at-start case (others: runs/4)"
    )
    args = parser.parse_args()
    os.environ.setdefault("TIATION_DEMO_DATABASE_URL", "postgresql://app:pw@db/tiation")
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="tiation-bench-") as tmp:
        root = copy_example(Path(tmp))
        loaded = load_platform(root / "tiation.yaml")
        store = StateStore.open(default_state_url(loaded.root), clock=clock)
        marks: dict[str, float] = {}

        def report(event: str, data: Any) -> None:
            marks[event] = time.monotonic()
            marks[f"{event}_wall"] = time.time()

        engine = Engine(loaded, store, clock, "bench", lambda e: make_target(loaded, e, clock), report=report)
        try:
            return run_cases(engine, loaded, store, marks, max(1, args.runs))
        finally:
            for svc in loaded.platform.services:
                make_target(loaded, "local", clock).stop(svc)
            store.close()


def deploy(engine: Engine, service: str, version: str) -> Any:
    [outcome] = engine.deploy(engine.plan("local", service, version, force=True))
    return outcome


def run_cases(engine: Engine, loaded: Any, store: StateStore, marks: dict[str, float], runs: int) -> int:
    for svc in ("liberation-system", "ai-agents", "terminal-workflows", "cms"):
        assert deploy(engine, svc, "1.0.0").status == "succeeded"
    port = loaded.platform.service_in("local", "cms").port
    clients = []
    for svc in loaded.platform.services:
        client = Client(f"http://127.0.0.1:{loaded.platform.service_in('local', svc).port}/")
        client.expect = "1.0.0"
        client.start()
        clients.append(client)
    results: dict[str, list[float]] = {
        k: [] for k in ("exit_verdict", "exit_stopped", "exit_lkg", "crash", "unhealthy", "deadline")
    }

    for _ in range(runs):  # cms 1.2.0 exits at start with code 3
        outcome = deploy(engine, "cms", "1.2.0")
        assert outcome.status == "failed" and outcome.verdict == "process exited with code 3", outcome
        results["exit_verdict"].append(outcome.timings["verdict_s"])
        results["exit_stopped"].append(marks["failed"] - marks["apply"])
        while True:  # the last-known-good answering on the public port after the verdict
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    if json.loads(resp.read())["version"] == "1.0.0":
                        break
            except OSError:
                pass
        results["exit_lkg"].append(time.monotonic() - marks["failed"])

    for _ in range(max(1, runs // 4)):  # terminal-workflows 1.2.0: healthy, then exits after 1.5 s
        outcome = deploy(engine, "terminal-workflows", "1.2.0")
        assert outcome.verdict == "process exited with code 1", outcome
        with store.read() as uow:
            dep = uow.deployments.get(outcome.deployment_id)
        assert dep is not None
        exited = next(e for e in dep.evidence["events"] if e["kind"] == "exited")
        results["crash"].append(marks["failed_wall"] - datetime.fromisoformat(exited["at"]).timestamp())

    interval = loaded.platform.services["ai-agents"].health.probes[0].interval.total_seconds()
    threshold = loaded.platform.services["ai-agents"].health.probes[0].failure_threshold
    for _ in range(max(1, runs // 4)):  # ai-agents 1.3.0: healthy, then /health 503 after 1 s
        outcome = deploy(engine, "ai-agents", "1.3.0")
        assert "failed 3 times in a row" in outcome.verdict, outcome
        with store.read() as uow:
            dep = uow.deployments.get(outcome.deployment_id)
        assert dep is not None
        [probe] = dep.evidence["probes"].values()
        fails = [r for r in probe if not r["ok"]][-threshold:]
        reached = datetime.fromisoformat(fails[-1]["at"]).timestamp()
        results["unhealthy"].append(marks["failed_wall"] - reached)

    deadline = loaded.platform.services["liberation-system"].health.deadline.total_seconds()
    for _ in range(max(1, runs // 8)):  # liberation-system 2.0.0: /health never 200
        outcome = deploy(engine, "liberation-system", "2.0.0")
        assert outcome.verdict.startswith("not healthy within"), outcome
        with store.read() as uow:
            dep = uow.deployments.get(outcome.deployment_id)
        assert dep is not None
        results["deadline"].append(dep.evidence["elapsed_s"] - deadline)

    for client in clients:
        client.stop_flag.set()
        client.join()
    print("local target, real processes; probe interval", f"{interval}s, failure threshold {threshold}")
    print(f"exit at start, apply -> verdict:               {summary(results['exit_verdict'])}")
    print(f"exit at start, apply -> candidate stopped:     {summary(results['exit_stopped'])}")
    print(f"exit at start, stopped -> LKG answering:       {summary(results['exit_lkg'])}")
    print(f"crash after 1.5 s, process exit -> verdict:    {summary(results['crash'])}")
    print(f"503 after 1 s, threshold reached -> verdict:   {summary(results['unhealthy'])}")
    print(f"never healthy, verdict - deadline:             {summary(results['deadline'])}")
    print("(verdict marks for crash/503 are taken after the candidate was stopped: they include the stop)")
    ok, bad = sum(c.ok for c in clients), sum(c.bad for c in clients)
    print(
        f"public ports of all 4 services during every failed deploy: {ok} requests answered by 1.0.0, {bad} not"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
