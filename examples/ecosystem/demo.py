"""`make demo`: the main job on the embedded defaults, end to end, with the real CLI and real processes.

Deploys the four services of the seed's ecosystem as local processes, then deploys broken versions and shows the
automatic rollback to the last-known-good release, `why`, a manual rollback that skips a bad N-1, a backup with a
restore drill, an alert through `tiation serve` that becomes an incident naming the deploy before it, the history,
and that a planted secret never appears anywhere. Runs in a temporary copy on free ports; stops every process
it started.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from relocate import copy_example

SECRET = "s3cr3t-demo-pw-7f3a"
shown: list[str] = []


def tiation(
    args: list[str], env: dict[str, str], *, expect: int = 0, show: bool = True, stream: str = "stdout"
) -> str:
    if show:
        print(f"\n$ tiation {' '.join(args)}", flush=True)
    proc = subprocess.run(
        [sys.executable, "-m", "tiation", *args], env=env, capture_output=True, text=True, check=False
    )
    out = proc.stdout + proc.stderr
    if show:
        print(out.rstrip(), flush=True)
    if SECRET in out:
        raise SystemExit("demo: the planted secret appeared in CLI output")
    if proc.returncode != expect:
        raise SystemExit(f"demo: `tiation {' '.join(args)}` exited {proc.returncode}, expected {expect}")
    return proc.stderr if stream == "stderr" else proc.stdout


def latest(env: dict[str, str], service: str) -> dict[str, object]:
    data = json.loads(tiation(["history", "local", service, "--json", "--limit", "5"], env, show=False))
    return data["deployments"][0]


def serving(env: dict[str, str], service: str) -> str | None:
    data = json.loads(tiation(["status", "local", "--json"], env, show=False))
    return next(r["version"] for r in data["services"] if r["service"] == service)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, token: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return dict(json.loads(answer.read()))


def alerting(root: Path, env: dict[str, str]) -> None:
    """Serve, post an Alertmanager alert for the cms, and show the incident that knows the deploy before it."""
    print("\n# an alert about the cms: tiation serve takes Alertmanager's webhook", flush=True)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tiation", "serve", "--port", str(port), "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        token = (root / "keys" / "demo-intake-token.txt").read_text().strip()
        alert = {
            "status": "firing",
            "labels": {
                "alertname": "DatabaseConnectionIssue",
                "service": "cms",
                "environment": "local",
                "severity": "critical",
            },
            "annotations": {"summary": "No active database connections"},
        }
        payload = {
            "version": "4",
            "groupKey": "demo",
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "tiation",
            "groupLabels": {},
            "commonLabels": alert["labels"],
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.local",
            "alerts": [alert],
        }
        url = f"http://127.0.0.1:{port}/api/v1/intake/alertmanager"
        first, again = post(url, token, payload), post(url, token, payload)
        print(f"POST {url} -> {first}; re-sent -> {again}", flush=True)
        check(
            first["new"] == 1 and again["duplicates"] == 1,
            "a re-sent alert is a duplicate, not a second page",
        )
        incident = str(first["incidents"][0])  # type: ignore[index]
        shown_incident = json.loads(tiation(["alerts", "show", incident, "--json"], env, show=False))
        tiation(["alerts", "show", incident], env)
        check(
            shown_incident["deployment_id"] is not None,
            "the incident names the cms deploy that preceded it (tiation why works on it)",
        )
        tiation(["alerts", "ack", incident], env)
        tiation(["alerts", "explain", "alertname=DiskSpaceLow", "service=cms", "severity=critical"], env)
        tiation(["oncall", "who"], env)
    finally:
        server.terminate()
        server.wait(timeout=30)


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"demo: expected {what}")
    shown.append(what)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="tiation-demo-"))
    root = copy_example(work)  # on free ports, so the demo runs wherever 18081… are taken
    env = {
        **os.environ,
        "TIATION_FILE": str(root / "tiation.yaml"),
        "TIATION_ACTOR": "demo",
        "TIATION_DEMO_DATABASE_URL": f"postgresql://app:{SECRET}@db.internal:5432/tiation",
    }
    env.pop("TIATION_STATE", None)
    try:
        tiation(["validate"], env)
        tiation(["deploy", "local", "all", "--dry-run"], env)
        tiation(["deploy", "local", "all"], env)
        check(
            all(
                serving(env, s) == "1.0.0"
                for s in ("liberation-system", "ai-agents", "terminal-workflows", "cms")
            ),
            "all four services deployed at 1.0.0, in dependency order",
        )
        tiation(["deploy", "local", "cms", "1.1.0"], env)
        check(serving(env, "cms") == "1.1.0", "cms 1.1.0 deployed and verified")

        print("\n# cms 1.2.0 exits at start: fail fast, keep 1.1.0", flush=True)
        tiation(["deploy", "local", "cms", "1.2.0"], env, expect=1)
        bad = latest(env, "cms")
        check(
            serving(env, "cms") == "1.1.0"
            and bad["status"] == "succeeded"
            and bad["kind"] == "auto-rollback",
            "cms 1.2.0 (exits at start) failed fast and 1.1.0 kept serving",
        )
        failed_id = str(bad["parent_id"])
        tiation(["why", failed_id], env)

        print(
            "\n# terminal-workflows 1.2.0 is healthy, then crashes: caught during the stability window",
            flush=True,
        )
        tiation(["deploy", "local", "terminal-workflows", "1.2.0"], env, expect=1)
        check(
            serving(env, "terminal-workflows") == "1.0.0",
            "terminal-workflows 1.2.0 (crashes after start) rolled back to 1.0.0",
        )

        print("\n# a quarantined release needs --force", flush=True)
        refused = tiation(["deploy", "local", "cms", "1.2.0"], env, expect=1, stream="stderr")
        check(
            "quarantined" in refused and "--force" in refused,
            "redeploying quarantined cms 1.2.0 refused without --force",
        )

        print("\n# manual rollback goes to the last-known-good, skipping the bad 1.2.0", flush=True)
        tiation(["rollback", "local", "cms"], env)
        check(
            serving(env, "cms") == "1.0.0", "`tiation rollback local cms` went to 1.0.0, skipping bad 1.2.0"
        )

        print(
            "\n# back up the cms database while it serves, verify it, and drill a restore against the RTO",
            flush=True,
        )
        tiation(["backup", "run", "cms-db"], env)
        tiation(["backup", "run", "cms-db"], env)
        newest = json.loads(tiation(["backup", "list", "cms-db", "--json"], env, show=False))["backups"][0]
        tiation(["backup", "verify", newest["id"]], env)
        tiation(["backup", "list", "cms-db"], env)
        drill = json.loads(tiation(["backup", "drill", "cms-db", "--json"], env, show=False))
        print(f"drill: {drill['detail']}", flush=True)
        check(
            drill["passed"],
            f"cms-db backed up (encrypted), verified, and a drill restored it in {drill['rto_s']}s",
        )

        alerting(root, env)
        tiation(["history", "local"], env)
        tiation(["status", "local"], env)

        state_files = list((root / ".tiation").rglob("*"))
        leaked = [p for p in state_files if p.is_file() and SECRET.encode() in p.read_bytes()]
        check(not leaked, "the planted DATABASE_URL password is in no output, log, state row or file")
    finally:
        tiation(["stop", "local"], env, show=True)
        shutil.rmtree(work, ignore_errors=True)
    print("\nDemo summary:")
    for line in shown:
        print(f"  ✓ {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
