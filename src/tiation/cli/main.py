"""The `tiation` console script: `--version` answers without importing anything else; the rest goes to Click."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from tiation import __version__

VERSION_LINE = f"tiation, version {__version__}"
"""What `tiation --version` prints (the words of Click's `version_option`)."""


def main(argv: Sequence[str] | None = None) -> Any:
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:
        sys.stdout.write(VERSION_LINE + "\n")
        sys.stdout.flush()
        raise SystemExit(0)
    from tiation.cli.errors import run_guarded
    from tiation.cli.group import cli

    return run_guarded(lambda: cli.main(args=argv, prog_name="tiation", standalone_mode=False), sys.argv)
