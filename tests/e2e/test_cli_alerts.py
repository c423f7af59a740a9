"""`tiation alerts …` through the real CLI on a state store the alert engine wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fixtures.alerting_kit import PLATFORM, firing, make_service
from tiation.clock import SystemClock


def _cli(tmp_path: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIATION_ACTOR": "ann"}
    env.pop("TIATION_STATE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "tiation", "-f", str(tmp_path / "tiation.yaml"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (proc.returncode == 0) == ok, proc.stderr + proc.stdout
    return proc


def _json(tmp_path: Path, *args: str) -> Any:
    return json.loads(_cli(tmp_path, *args, "--json").stdout)


def test_list_show_ack_resolve(tmp_path: Path) -> None:
    (tmp_path / "tiation.yaml").write_text(PLATFORM)
    svc = make_service(tmp_path, clock=SystemClock())
    state_path = tmp_path / "state.db"
    incident = svc.ingest([firing(), firing(pod="b")]).incidents[0]
    svc.fire_due()
    svc.store.close()
    state = f"sqlite:///{state_path}"

    listed = _json(tmp_path, "--state", state, "alerts", "list")
    assert [i["id"] for i in listed] == [incident] and listed[0]["state"] == "triggered"
    shown = _json(tmp_path, "--state", state, "alerts", "show", incident[:5])
    assert len(shown["alerts"]) == 2
    assert [s["label"] for s in shown["steps"]][:2] == ["channels", "step 1 round 1"]
    assert {n["notifier"] for n in shown["notifications"]} == {"slack", "pager"}
    assert any(
        e["stage"] == "route" and "default policy 'standard'" in e["reason"] for e in shown["timeline"]
    )

    human = _cli(tmp_path, "--state", state, "alerts", "show", incident).stdout
    assert "timeline" in human and "escalation" in human

    acked = _json(tmp_path, "--state", state, "alerts", "ack", incident)
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "ann"
    again = _cli(tmp_path, "--state", state, "alerts", "ack", incident)  # a no-op, with a note
    assert again.returncode == 0 and again.stderr == ""
    assert again.stdout.strip() == f"note: {incident} was already acknowledged by ann; nothing changed"
    resolved = _json(tmp_path, "--state", state, "alerts", "resolve", incident)
    assert resolved["state"] == "resolved"
    assert _json(tmp_path, "--state", state, "alerts", "list") == []
    audit = _json(tmp_path, "--state", state, "audit")
    assert {"alerts.ack", "alerts.resolve"} <= {e["action"] for e in audit["events"]}
    missing = _cli(tmp_path, "--state", state, "alerts", "show", "nope", ok=False)
    assert "no incident 'nope'" in missing.stderr and "Traceback" not in missing.stderr


def test_explain_and_silences(tmp_path: Path) -> None:
    (tmp_path / "tiation.yaml").write_text(PLATFORM)
    labels = ["alertname=HighErrorRate", "service=cms", "severity=critical"]
    result = _json(tmp_path, "alerts", "explain", *labels, "--at", "2026-11-25T10:00:00Z")
    assert [d["stage"] for d in result["decisions"]] == ["severity", "silence", "route", "escalate"]
    assert [(s["label"], s["due_at"], s["paged"]) for s in result["steps"]] == [
        ("channels", "2026-11-25T10:00:00+00:00", ["slack"]),
        ("step 1 round 1", "2026-11-25T10:00:00+00:00", ["pager"]),
        ("step 2 round 1", "2026-11-25T10:01:00+00:00", ["cid via email"]),
    ]
    # Sunday 02:30 in Berlin: the maintenance window holds everything until 04:00 Berlin (03:00 UTC)
    held = _json(
        tmp_path, "alerts", "explain", "alertname=MaintenanceReindex", "--at", "2026-11-29T01:30:00Z"
    )
    assert held["decisions"][1]["outcome"] == "silenced"
    assert held["steps"][0]["due_at"] == "2026-11-29T03:00:00+00:00"

    added = _json(
        tmp_path, "alerts", "silence", "add", "service=cms", "--for", "1h", "--comment", "deploy window"
    )
    now_silenced = _json(tmp_path, "alerts", "explain", *labels)
    assert now_silenced["decisions"][1]["outcome"] == "silenced"
    assert f"silence #{added['id']}" in now_silenced["decisions"][1]["reason"]
    listed = _json(tmp_path, "alerts", "silence", "list")
    assert listed[0]["active"] is True and listed[0]["comment"] == "deploy window"
    _cli(tmp_path, "alerts", "silence", "expire", str(added["id"]))
    assert _json(tmp_path, "alerts", "explain", *labels)["decisions"][1]["outcome"] == "none"
    bad = _cli(tmp_path, "alerts", "silence", "add", "service=(", "--comment", "x", ok=False)
    assert "matchers: service: not a regular expression" in bad.stderr
    bad_label = _cli(tmp_path, "alerts", "explain", "severity", ok=False)
    assert "labels: expected NAME=VALUE, got 'severity'" in bad_label.stderr
