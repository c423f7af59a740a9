"""The main job through the real CLI: real processes, real probes, real state files."""

from __future__ import annotations

import json
import time
import urllib.request

from fixtures.eco import SECRET, Eco


def public_version(eco: Eco, service: str) -> str:
    rows = eco.tiation("status", "local", "--json").json()["services"]
    endpoint = next(r["endpoint"] for r in rows if r["service"] == service)
    with urllib.request.urlopen(f"http://{endpoint}/", timeout=5) as resp:
        return str(json.loads(resp.read())["version"])


def test_deploy_all_in_dependency_order_and_serve(eco: Eco) -> None:
    run = eco.tiation("deploy", "local", "all")
    order = [line.split(":")[0].split()[-1] for line in run.stdout.splitlines() if line.startswith("→")]
    assert order == ["liberation-system", "ai-agents", "cms", "terminal-workflows"]
    for svc in order:
        assert public_version(eco, svc) == "1.0.0"
    history = eco.tiation("history", "local", "--json").json()["deployments"]
    assert {(d["service"], d["status"]) for d in history} == {(s, "succeeded") for s in order}


def test_exit_at_start_fails_fast_and_last_known_good_keeps_serving(eco: Eco) -> None:
    eco.tiation("deploy", "local", "liberation-system")
    eco.tiation("deploy", "local", "ai-agents")
    eco.tiation("deploy", "local", "cms", "1.1.0")
    run = eco.tiation("deploy", "local", "cms", "1.2.0", "--json", expect=1)
    [outcome] = run.json()["outcomes"]
    assert outcome["status"] == "failed"
    assert outcome["verdict"] == "process exited with code 3"
    assert outcome["rolled_back_to"] == "1.1.0"
    assert public_version(eco, "cms") == "1.1.0"

    why = eco.tiation("why", outcome["deployment_id"], "--json").json()
    assert why["status"] == "failed"
    assert any(e["kind"] == "exited" and e["exit_code"] == 3 for e in why["evidence"]["events"])
    assert any("missing key 'site_url'" in line for line in why["evidence"]["log_tail"])
    assert why["followed_by"][0]["kind"] == "auto-rollback"
    human = eco.tiation("why", outcome["deployment_id"][:6]).stdout
    assert "verdict: process exited with code 3" in human and "last log lines:" in human

    blocked = eco.tiation("deploy", "local", "cms", "1.2.0", expect=1)
    assert "quarantined" in blocked.stderr and "--force" in blocked.stderr
    assert len(blocked.stderr.strip().splitlines()) == 1
    # the reason is said once: the plan line only names the blocked step
    assert blocked.stdout.splitlines() == ["! cms: blocked"] and "quarantined" not in blocked.stdout


def test_healthy_then_crashing_release_is_caught(eco: Eco) -> None:
    eco.tiation("deploy", "local", "liberation-system")
    eco.tiation("deploy", "local", "terminal-workflows")
    run = eco.tiation("deploy", "local", "terminal-workflows", "1.2.0", "--json", expect=1)
    [outcome] = run.json()["outcomes"]
    assert outcome["verdict"] == "process exited with code 1"
    assert outcome["rolled_back_to"] == "1.0.0"
    why = eco.tiation("why", outcome["deployment_id"], "--json").json()
    passed = [r for results in why["evidence"]["probes"].values() for r in results if r["ok"]]
    assert passed, "the release passed its probes before it crashed"
    assert public_version(eco, "terminal-workflows") == "1.0.0"


def test_never_healthy_fails_at_the_deadline(eco: Eco) -> None:
    eco.tiation("deploy", "local", "liberation-system")
    run = eco.tiation("deploy", "local", "liberation-system", "2.0.0", "--json", expect=1)
    [outcome] = run.json()["outcomes"]
    assert outcome["verdict"].startswith("not healthy within the 8s deadline")
    assert "status 503" in outcome["verdict"]
    assert public_version(eco, "liberation-system") == "1.0.0"


def test_rollback_skips_a_bad_n_minus_1(eco: Eco) -> None:
    eco.tiation("deploy", "local", "liberation-system")
    eco.tiation("deploy", "local", "ai-agents")
    eco.tiation("deploy", "local", "cms", "1.0.0")
    eco.tiation("deploy", "local", "cms", "1.3.0", expect=1)  # crashes after start: bad
    eco.tiation("deploy", "local", "cms", "1.4.0")
    assert public_version(eco, "cms") == "1.4.0"
    run = eco.tiation("rollback", "local", "cms", "--json")
    assert run.json()["version"] == "1.0.0"
    assert public_version(eco, "cms") == "1.0.0"
    refused = eco.tiation("rollback", "local", "cms", "--to", "1.3.0", expect=1)
    assert "quarantined" in refused.stderr


def test_concurrent_deploys_of_one_service_exactly_one_runs(eco: Eco) -> None:
    eco.tiation("deploy", "local", "liberation-system")
    first = eco.popen("deploy", "local", "liberation-system", "1.1.0")
    second = eco.popen("deploy", "local", "liberation-system", "1.1.1")
    results = [(*p.communicate(timeout=120), p.returncode) for p in (first, second)]
    codes = sorted(code for _, _, code in results)
    assert codes == [0, 1], results
    loser = next(err for _, err, code in results if code == 1)
    assert "is locked by alice@" in loser and "since" in loser
    assert eco.tiation("lock", "list", "--json").json()["leases"] == []


def wait_for_lease(eco: Eco) -> None:
    deadline = time.monotonic() + 30
    while not eco.tiation("lock", "list", "--json").json()["leases"]:
        assert time.monotonic() < deadline, "the deploy never took the lease"
        time.sleep(0.1)


def test_stop_during_a_deploy_is_refused_and_the_deploy_still_serves(eco: Eco) -> None:
    eco.tiation("deploy", "local", "liberation-system")
    deploying = eco.popen("deploy", "local", "liberation-system", "1.1.0")  # verifies for stable_for (3 s)
    wait_for_lease(eco)
    refused = eco.tiation("stop", "local", "liberation-system", expect=1)
    assert "local/liberation-system is locked by alice@" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    _, err = deploying.communicate(timeout=120)
    assert deploying.returncode == 0, err
    assert public_version(eco, "liberation-system") == "1.1.0"
    assert eco.tiation("lock", "list", "--json").json()["leases"] == []
    eco.tiation("stop", "local", "liberation-system")  # free again: stop takes and gives back the lease
    assert eco.tiation("lock", "list", "--json").json()["leases"] == []


def test_dry_run_changes_nothing(eco: Eco) -> None:
    run = eco.tiation("deploy", "local", "all", "--dry-run", "--json")
    steps = run.json()["plan"]["steps"]
    assert [s["action"] for s in steps] == ["deploy"] * 4
    assert eco.tiation("history", "local", "--json").json()["deployments"] == []
    assert eco.tiation("audit", "--json").json()["events"] == []
    assert not (eco.root / ".tiation" / "local").exists()
    assert all(r["version"] is None for r in eco.tiation("status", "local", "--json").json()["services"])


def test_planted_secret_reaches_the_service_but_no_output_log_or_row(eco: Eco) -> None:
    eco.tiation("deploy", "local", "liberation-system")
    rows = eco.tiation("status", "local", "--json").json()["services"]
    endpoint = next(r["endpoint"] for r in rows if r["service"] == "liberation-system")
    with urllib.request.urlopen(f"http://{endpoint}/", timeout=5) as resp:
        assert json.loads(resp.read())["database"] == "configured"
    eco.tiation("deploy", "local", "liberation-system", "2.0.0", expect=1)
    failed = eco.tiation("history", "local", "--json").json()["deployments"]
    for dep in failed:
        eco.tiation("why", dep["id"], "--json")
    eco.tiation("audit", "--json")
    eco.tiation("logs", "local", "liberation-system")
    eco.tiation("validate", "--json")
    for text in eco.outputs:
        assert SECRET not in text
    leaked = [
        p for p in (eco.root / ".tiation").rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()
    ]
    assert leaked == []


def test_lease_takeover_after_the_holder_is_killed(eco: Eco) -> None:
    import signal

    eco.tiation("deploy", "local", "liberation-system")  # the example's lease_ttl: 60 s
    holder = eco.popen("deploy", "local", "liberation-system", "2.0.0")  # never healthy: verifies for 8 s
    wait_for_lease(eco)
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=30)
    [lease] = eco.tiation("lock", "list", "--json").json()["leases"]
    assert lease["dead"] == f"pid {holder.pid} gone" and lease["expired"] is False
    assert f"dead (pid {holder.pid} gone)" in eco.tiation("lock", "list").stdout
    started = time.monotonic()
    eco.tiation("deploy", "local", "liberation-system", "1.1.0")  # at once: no wait for the ttl
    assert time.monotonic() - started < 30
    assert public_version(eco, "liberation-system") == "1.1.0"
    history = eco.tiation("history", "local", "liberation-system", "--json").json()["deployments"]
    killed = next(d for d in history if d["version"] == "2.0.0")
    assert killed["status"] == "aborted"
    assert "interrupted" in killed["verdict"]


def test_lock_release_needs_force_and_is_audited(eco: Eco) -> None:
    import signal

    eco.tiation("deploy", "local", "liberation-system")
    holder = eco.popen("deploy", "local", "liberation-system", "2.0.0")  # never healthy: holds the lease ~8 s
    deadline = time.monotonic() + 30
    while not eco.tiation("lock", "list", "--json").json()["leases"]:
        assert time.monotonic() < deadline, "the deploy never took the lease"
        time.sleep(0.1)
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=30)
    [lease] = eco.tiation("lock", "list", "--json").json()["leases"]
    assert lease["owner"].startswith("alice@") and lease["expired"] is False
    refused = eco.tiation("lock", "release", "local", "liberation-system", expect=2)
    assert "needs --force" in refused.stderr
    eco.tiation("--as", "bob", "lock", "release", "local", "liberation-system", "--force")
    assert eco.tiation("lock", "list", "--json").json()["leases"] == []
    events = eco.tiation("audit", "--json").json()["events"]
    assert any(e["action"] == "lock.force_release" and e["actor"] == "bob" for e in events)
    eco.tiation("deploy", "local", "liberation-system", "1.1.0")  # at once: no waiting for expiry
    assert public_version(eco, "liberation-system") == "1.1.0"
