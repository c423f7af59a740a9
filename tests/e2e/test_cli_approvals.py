"""Approvals for environments that require them, through the CLI."""

from __future__ import annotations

import time

from fixtures.eco import Eco


def test_production_needs_an_approval_from_someone_else(eco: Eco) -> None:
    run = eco.tiation("deploy", "production", "liberation-system", "1.0.0", "--yes", expect=1)
    assert "requires an approval" in run.stderr

    eco.tiation("approve", "production", "liberation-system", "1.0.0")  # alice approves her own deploy
    run = eco.tiation("deploy", "production", "liberation-system", "1.0.0", "--yes", expect=1)
    assert "must come from someone else" in run.stderr

    eco.tiation("--as", "bob", "approve", "production", "liberation-system", "1.0.0")
    no_tty = eco.tiation("deploy", "production", "liberation-system", "1.0.0", expect=2)
    assert "pass --yes" in no_tty.stderr
    eco.tiation("deploy", "production", "liberation-system", "1.0.0", "--yes")
    assert eco.serving("liberation-system", "production") == "1.0.0"
    actions = [e["action"] for e in eco.tiation("audit", "--json").json()["events"]]
    assert actions.count("approval.add") == 2


def test_expired_approval_and_approval_for_another_release_are_refused(eco: Eco) -> None:
    eco.edit("approval_ttl: 4h", "approval_ttl: 1s")
    eco.tiation("--as", "bob", "approve", "production", "liberation-system", "1.0.0")
    time.sleep(1.2)
    run = eco.tiation("deploy", "production", "liberation-system", "1.0.0", "--yes", expect=1)
    assert "expired" in run.stderr

    eco.edit("approval_ttl: 1s", "approval_ttl: 1h")
    eco.tiation("--as", "bob", "approve", "production", "liberation-system", "1.0.0")
    eco.edit("NODE_ENV: production", "NODE_ENV: prod")  # config changed after the approval: another digest
    run = eco.tiation("deploy", "production", "liberation-system", "1.0.0", "--yes", expect=1)
    assert "approve this release" in run.stderr
