"""Reads that never lie, and the repairs they lead to (issue 11): a dead proxy shows `down` and the next deploy of
the serving version repairs it."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
import urllib.request
from pathlib import Path
from typing import Any

from fixtures.eco import Eco
from tiation.targets.local.supervisor import BASE_ENV

SERVICE = "liberation-system"


def _row(eco: Eco, service: str = SERVICE) -> dict[str, Any]:
    rows = eco.tiation("status", "local", "--json").json()["services"]
    return next(r for r in rows if r["service"] == service)


def _proxy_pid(eco: Eco, service: str = SERVICE) -> int:
    state = json.loads((eco.root / ".tiation" / "local" / "local" / service / "proxy.json").read_text())
    return int(state["pid"])


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as fh:  # a zombie of ours is gone too
        return fh.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_killed_proxy_shows_down_and_the_next_deploy_repairs_it(eco: Eco) -> None:
    eco.tiation("deploy", "local", SERVICE)
    assert _row(eco)["state"] == "running"
    pid = _proxy_pid(eco)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    row = _row(eco)
    assert row["state"] == "down" and row["version"] == "1.0.0"

    run = eco.tiation("deploy", "local", SERVICE, "--json")  # no --force
    [outcome] = run.json()["outcomes"]
    assert outcome["status"] == "succeeded", outcome
    row = _row(eco)
    assert row["state"] == "running" and row["endpoint"]
    with urllib.request.urlopen(f"http://{row['endpoint']}/", timeout=5) as resp:
        assert json.loads(resp.read())["version"] == "1.0.0"
    assert _proxy_pid(eco) != pid


def _service_environ(eco: Eco, service: str = SERVICE) -> dict[str, str]:
    """The environment of the serving instance's process, as the kernel has it."""
    base = eco.root / ".tiation" / "local" / "local" / service
    serving = json.loads((base / "serving.json").read_text())["instance_id"]
    pid = json.loads((base / "instances" / serving / "status.json").read_text())["child_pid"]
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = [item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item]
    return {k.decode(): v.decode() for k, v in pairs}


def test_a_service_gets_only_its_declared_env_and_the_minimal_base(eco: Eco) -> None:
    planted = {"AWS_SECRET_ACCESS_KEY": "planted-deployer-only", "TIATION_PLANTED_TOKEN": "x"}
    eco.tiation("deploy", "local", SERVICE, extra_env={**planted, "TZ": "UTC"})
    environ = _service_environ(eco)
    assert not set(planted) & set(environ)
    assert "planted-deployer-only" not in "".join(environ.values())
    assert environ["DATABASE_URL"]  # the declared env (a secret reference, resolved) is there
    assert environ["TZ"] == "UTC" and "PATH" in environ
    # the deployer's own variables (the fixture's TIATION_FILE …) stay with the deployer; `python3` may be a
    # pyenv shim, a shell script that sets its own PYENV_*, PWD and SHLVL
    shim = ("PYENV", "_PYENV", "PWD", "SHLVL")
    inherited = {k for k in eco.env if k not in BASE_ENV and k not in planted and not k.startswith(shim)}
    assert "TIATION_FILE" in inherited and not inherited & set(environ), sorted(environ)


def test_state_and_logs_are_private_under_umask_022(eco: Eco) -> None:
    old = os.umask(0o022)
    try:
        eco.tiation("deploy", "local", SERVICE)
    finally:
        os.umask(old)
    state = eco.root / ".tiation"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    private = [*state.glob("state.db*"), *(state / "logs").rglob("*.log")]
    assert {p.name for p in private} >= {"state.db", "proxy.log"}
    assert {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in private} == {
        str(p): "0o600" for p in private
    }
