"""`tiation --version` answers before Click (or anything else of tiation) is imported, in Click's words."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from tiation.cli.group import cli
from tiation.cli.main import VERSION_LINE


def test_the_fast_answer_is_the_one_click_gives() -> None:
    assert CliRunner().invoke(cli, ["--version"]).output == VERSION_LINE + "\n"


def test_version_imports_neither_click_nor_the_commands() -> None:
    code = (
        "import sys\n"
        "from tiation.cli.main import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "print(sorted(m for m in sys.modules if m == 'click' or m.startswith(('tiation.cli.', 'pydantic'))))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.splitlines() == [VERSION_LINE, "['tiation.cli.main']"]
