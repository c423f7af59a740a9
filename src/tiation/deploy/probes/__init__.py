"""Probe kinds: one module each, registered with `run_check` when imported here.

Adding a kind: its settings model (a `Check` subclass and a field on `Probe`, `config/probes.py`), its runner
module here, and one import line below. Targets render only the kinds they know natively (`http`, `tcp`,
`command`); the deploy engine runs any other kind itself.
"""

from __future__ import annotations

from tiation.deploy.probes import command, http, prometheus, tcp
from tiation.deploy.probes.base import ProbeContext, run_check

__all__ = ["ProbeContext", "command", "http", "prometheus", "run_check", "tcp"]
