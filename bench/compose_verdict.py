"""How fast a crashing container is judged, and how fast the last-known-good serves again, on the compose target.

Goals (issue 5): verdict <= 20 s after the first failing container status; last-known-good serving <= 15 s
after the verdict. Starts its own Docker engine (dockerd from Debian docker.io, as the tests do), builds the
test images locally, and runs the real engine through the Docker Engine API with real HTTP probes. Two cases:

    warm  1.0.0 serves; 2.0.0 exits with code 3 at start. The last-known-good keeps serving (blue/green); a
          client requests the public port every 20 ms throughout and counts every failed request.
    cold  the service is stopped first (nothing serves), then 2.0.0 crashes: the auto-rollback starts 1.0.0
          again from its stored release bundle, verifies and promotes it.

    .venv/bin/python bench/compose_verdict.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _eco import summary

from fixtures.common import free_port
from fixtures.docker import DockerEngine, running_engine
from tiation.clock import SystemClock
from tiation.config.loader import load_platform
from tiation.deploy.engine import Engine
from tiation.deploy.targets import make_target
from tiation.state import StateStore, default_state_url

PLATFORM = """\
version: 1
project: {{name: bench}}
environments:
  dev:
    target: compose
    compose: {{docker_host: "{host}"}}
services:
  web:
    port: {port}
    image: "tiation-bench/app:{{version}}"
    health:
      deadline: 15s
      probes:
        - http: {{path: /health}}
          interval: 250ms
          failure_threshold: 3
"""


def answering(port: int, version: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
            return bool(json.loads(resp.read())["version"] == version)
    except (OSError, ValueError):
        return False


class Client(threading.Thread):
    """Requests the public port every 20 ms; records (wall time of the answer, answered by 1.0.0)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.answers: list[tuple[float, bool]] = []
        self.stop_flag = threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            ok = answering(self.port, "1.0.0")
            self.answers.append((time.time(), ok))
            time.sleep(0.02)

    def first_ok_after(self, wall: float, timeout: float = 60.0) -> float:
        """Seconds from `wall` to the first answer by 1.0.0 at or after it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((t for t, ok in list(self.answers) if ok and t >= wall), None)
            if found is not None:
                return found - wall
            time.sleep(0.01)
        raise SystemExit("the last-known-good did not answer again")

    def count(self, since: float, until: float) -> tuple[int, int]:
        window = [ok for t, ok in list(self.answers) if since <= t <= until]
        return sum(window), len(window) - sum(window)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10, help="runs of each case")
    args = parser.parse_args()
    with running_engine() as docker, tempfile.TemporaryDirectory(prefix="tiation-bench-") as tmp:
        print(f"dockerd up in {docker.startup_seconds:.2f}s (storage driver {docker.storage_driver})")
        docker.image("tiation-bench/app:1.0.0", version="1.0.0")
        docker.image("tiation-bench/app:2.0.0", version="2.0.0", mode="crash")
        port = free_port()
        root = Path(tmp)
        (root / "tiation.yaml").write_text(PLATFORM.format(host=docker.host, port=port))
        return run(docker, root, port, max(1, args.runs))


def run(docker: DockerEngine, root: Path, port: int, runs: int) -> int:
    clock = SystemClock()
    loaded = load_platform(root / "tiation.yaml")
    store = StateStore.open(default_state_url(loaded.root), clock=clock)
    marks: dict[str, float] = {}

    def report(event: str, data: Any) -> None:
        marks.setdefault(f"{event}_wall", time.time())  # the first of each: the deploy's, not its rollback's

    target = make_target(loaded, "dev", clock)
    engine = Engine(loaded, store, clock, "bench", lambda e: target, report=report)

    def deploy(version: str) -> Any:
        marks.clear()
        [outcome] = engine.deploy(engine.plan("dev", "web", version, force=True))
        return outcome

    def record(prefix: str, outcome: Any) -> None:
        """apply and verdict times, the exit -> verdict time, then wait for the LKG: verdict -> answering."""
        with store.read() as uow:
            dep = uow.deployments.get(outcome.deployment_id)
        assert dep is not None
        evidence = dep.evidence
        verdict_wall = marks["apply_wall"] + evidence["apply_s"] + evidence["elapsed_s"]
        exited = next(e for e in evidence["events"] if e["kind"] == "exited")
        results[f"{prefix}apply"].append(evidence["apply_s"])
        results[f"{prefix}verdict"].append(outcome.timings["verdict_s"])
        results[f"{prefix}die"].append(verdict_wall - datetime.fromisoformat(exited["at"]).timestamp())
        results[f"{prefix}lkg"].append(client.first_ok_after(verdict_wall))

    keys = ("apply", "verdict", "die", "lkg")
    results: dict[str, list[float]] = {f"{p}{k}": [] for p in ("", "cold_") for k in keys}
    client = Client(port)
    try:
        assert deploy("1.0.0").status == "succeeded"
        client.start()
        warm_start = time.time()
        for _ in range(runs):
            outcome = deploy("2.0.0")
            assert outcome.status == "failed" and outcome.verdict == "process exited with code 3", outcome
            record("", outcome)
        warm = client.count(warm_start, time.time())

        for _ in range(runs):
            target.stop("web")
            assert not answering(port, "1.0.0")
            time.sleep(0.05)  # the client's answers from before the failing deploy are not counted
            outcome = deploy("2.0.0")
            assert outcome.status == "failed" and outcome.rolled_back_to == "1.0.0", outcome
            record("cold_", outcome)
    finally:
        client.stop_flag.set()
        target.stop("web")
        store.close()
    print("compose target, real Docker engine via its HTTP API; probe interval 0.25s, threshold 3")
    for prefix, case in (("", "warm"), ("cold_", "cold")):
        print(f"{case}: apply (create + start container):         {summary(results[prefix + 'apply'])}")
        print(f"{case}: apply -> verdict:                          {summary(results[prefix + 'verdict'])}")
        print(f"{case}: container exit (die event) -> verdict:     {summary(results[prefix + 'die'])}")
        print(f"{case}: verdict -> last-known-good answering:      {summary(results[prefix + 'lkg'])}")
    print(
        f"warm: public port during every failed deploy: {warm[0]} requests answered by 1.0.0, {warm[1]} not"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
