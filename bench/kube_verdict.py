"""How fast a bad release is judged and the last-known-good serves again on a real Kubernetes control plane.

Goals (issue 5): verdict <= 20 s after the first failing pod status; last-known-good restored <= 15 s after the
verdict. Real etcd + kube-apiserver + kube-controller-manager + kube-scheduler (v1.36.3); kwok simulates the
kubelets (tests/fixtures/kube/stages.yaml: a crash-looping container reports CrashLoopBackOff 0.5-2 s after
it is scheduled, an unpullable image ErrImagePull). The real engine deploys through the kubernetes target.
In the same runs, `kubectl rollout status --watch` follows the same rollout; what it printed, and when, is shown.

    .venv/bin/python bench/kube_verdict.py [--runs 5] [--replicas 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from fixtures.kube import KUBECTL, deployer_rbac, start_cluster, stop_cluster  # noqa: E402
from tiation.clock import SystemClock  # noqa: E402
from tiation.config.loader import load_platform  # noqa: E402
from tiation.deploy.engine import Engine  # noqa: E402
from tiation.deploy.targets import make_target  # noqa: E402
from tiation.state import StateStore, default_state_url  # noqa: E402
from tiation.targets.kubernetes.manifests import DIGEST_ANNOTATION  # noqa: E402
from tiation.targets.kubernetes.rollout import rollout_status  # noqa: E402

PLATFORM = """\
version: 1
project: {{name: bench}}
environments:
  prod:
    target: kubernetes
    kubernetes: {{kubeconfig: {kubeconfig}, context: deployer, namespace: bench, progress_deadline: 600s}}
services:
  cms:
    port: 8080
    image: registry.local/cms:{{version}}
    replicas: {replicas}
    config: {{app.yaml: "release: {{version}}\\n"}}
    health:
      deadline: 120s
      probes: [{{http: {{path: /health}}, interval: 1s}}]
"""
FAILING = {"CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff"}


class PodWatch(threading.Thread):
    """Records (wall time) when a pod of a given template digest first reports a failing waiting reason."""

    def __init__(self, api: Any) -> None:
        super().__init__(daemon=True)
        from kubernetes import client

        self.core = client.CoreV1Api(api)
        self.digest = ""
        self.first_fail: float | None = None
        self.new_pod_seen = threading.Event()

    def run(self) -> None:
        from kubernetes import watch

        try:
            self._watch(watch.Watch())
        except Exception:  # the control plane stopping at the end of the run ends the watch
            return

    def _watch(self, w: Any) -> None:
        for event in w.stream(self.core.list_namespaced_pod, "bench", deserialize=False):
            pod = event.get("raw_object") or event["object"]
            ann = (pod.get("metadata") or {}).get("annotations") or {}
            if not self.digest or ann.get(DIGEST_ANNOTATION) != self.digest:
                continue
            self.new_pod_seen.set()
            for cs in (pod.get("status") or {}).get("containerStatuses") or ():
                reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
                if reason in FAILING and self.first_fail is None:
                    self.first_fail = time.time()


def kubectl_rollout_status(kubeconfig: Path, lines: list[tuple[float, str]], stop: threading.Event) -> None:
    cmd = [KUBECTL, f"--kubeconfig={kubeconfig}", "--context=admin", "-n", "bench"]
    proc = subprocess.Popen(
        [*cmd, "rollout", "status", "deployment/cms", "--watch", "--timeout=10m"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    threading.Thread(target=lambda: (stop.wait(), proc.terminate()), daemon=True).start()
    for line in proc.stdout:
        lines.append((time.time(), line.strip()))
    proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="runs per failure kind")
    parser.add_argument("--replicas", type=int, default=3)
    args = parser.parse_args()
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="tiation-bench-kube-") as tmp:
        t0 = time.monotonic()
        cluster = start_cluster(Path(tmp) / "cluster")
        print(f"control plane up in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        try:
            cluster.kubectl("create", "namespace", "bench")
            rbac = Path(tmp) / "rbac.json"
            rbac.write_text(json.dumps(deployer_rbac("bench")))
            cluster.kubectl("apply", "-f", str(rbac))
            root = Path(tmp) / "project"
            root.mkdir()
            (root / "tiation.yaml").write_text(
                PLATFORM.format(kubeconfig=cluster.kubeconfig, replicas=args.replicas)
            )
            return run(cluster, root, clock, args.runs)
        finally:
            stop_cluster(cluster)


def run(cluster: Any, root: Path, clock: SystemClock, runs: int) -> int:
    loaded = load_platform(root / "tiation.yaml")
    store = StateStore.open(default_state_url(loaded.root), clock=clock)
    marks: dict[str, float] = {}

    def report(event: str, data: Any) -> None:
        if event == "verify" and data.get("waiting_for") == "failed" and "verdict" not in marks:
            marks["verdict"] = time.time()

    engine = Engine(loaded, store, clock, "bench", lambda e: make_target(loaded, e, clock), report=report)
    admin = cluster.api("admin")
    from kubernetes import client

    apps = client.AppsV1Api(admin)
    watcher = PodWatch(admin)
    watcher.start()
    [ok] = engine.deploy(engine.plan("prod", "cms", "1.0.0"))
    assert ok.status == "succeeded", ok
    lkg_digest = apps.read_namespaced_deployment("cms", "bench").metadata.annotations[DIGEST_ANNOTATION]
    rows: list[dict[str, Any]] = []
    for kind in ("crashloop", "imagepull"):
        for i in range(runs):
            version = f"2.0.{i}-{kind}"
            plan = engine.plan("prod", "cms", version)
            release = plan.steps[0].release
            marks.clear()
            watcher.first_fail = None
            watcher.digest = release.digest
            watcher.new_pod_seen.clear()
            kubectl_lines: list[tuple[float, str]] = []
            stop = threading.Event()

            def start_kubectl(
                lines: list[tuple[float, str]] = kubectl_lines, halt: threading.Event = stop
            ) -> None:
                watcher.new_pod_seen.wait(30)
                kubectl_rollout_status(cluster.kubeconfig, lines, halt)

            kthread = threading.Thread(target=start_kubectl, daemon=True)
            kthread.start()
            applied = time.time()
            [outcome] = engine.deploy(plan)
            assert outcome.status == "failed" and outcome.rolled_back_to == "1.0.0", outcome
            restored = wait_restored(apps, lkg_digest)
            time.sleep(1.0)  # let kubectl print what it makes of the revert
            stop.set()
            kthread.join(10)
            first = watcher.first_fail or float("nan")
            rows.append(
                {
                    "kind": kind,
                    "first_fail_s": first - applied,
                    "verdict_after_fail_s": marks["verdict"] - first,
                    "restored_after_verdict_s": restored - marks["verdict"],
                    "verdict": outcome.verdict[:60],
                    "kubectl": [(round(t - applied, 2), line) for t, line in kubectl_lines],
                }
            )
    store.close()
    print_table(rows)
    return 0


def wait_restored(apps: Any, digest: str) -> float:
    """Wall time at which the Deployment carries `digest` again and its rollout is complete."""
    while True:
        resp = apps.read_namespaced_deployment("cms", "bench", _preload_content=False)
        dep = json.loads(resp.data)
        if dep["metadata"]["annotations"].get(DIGEST_ANNOTATION) == digest and rollout_status(dep).done:
            return time.time()
        time.sleep(0.05)


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'kind':10} {'1st fail':>9} {'verdict':>9} {'restored':>9}  (s; fail from apply, verdict from fail,"
    )
    print(f"{'':10} {'':>9} {'':>9} {'':>9}   restored from verdict)")
    for r in rows:
        print(
            f"{r['kind']:10} {r['first_fail_s']:9.2f} {r['verdict_after_fail_s']:9.3f} "
            f"{r['restored_after_verdict_s']:9.2f}  {r['verdict']}"
        )
    for kind in ("crashloop", "imagepull"):
        sel = [r for r in rows if r["kind"] == kind]
        v = [r["verdict_after_fail_s"] for r in sel]
        s = [r["restored_after_verdict_s"] for r in sel]
        print(
            f"{kind}: verdict after first failing status max {max(v):.3f} s (median {statistics.median(v):.3f});"
            f" restored after verdict max {max(s):.2f} s (median {statistics.median(s):.2f})"
        )
    print("\nkubectl rollout status --watch on the same rollouts (seconds from apply: line):")
    for r in rows[:1] + [r for r in rows if r["kind"] == "imagepull"][:1]:
        print(f"  {r['kind']}:")
        for t, line in r["kubectl"]:
            print(f"    {t:7.2f}  {line}")


if __name__ == "__main__":
    sys.exit(main())
