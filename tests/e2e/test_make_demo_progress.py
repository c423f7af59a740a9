"""`make demo` on a fresh clone says what it is doing, one line per phase; other targets stay as quiet as before.

The real venv and pip install take minutes, so the Makefile runs here with a stand-in for python3 (`PY=`)
whose `-m venv` makes a venv of stubs: the phases and their order are what is tested, not pip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKE_PYTHON = """#!/bin/sh
[ "$1 $2" = "-m venv" ] || exit 3
mkdir -p "$3/bin"
for tool in pip python; do
  printf '#!/bin/sh\\necho "%s $*" >> "%s/calls"\\n' "$tool" "$3" > "$3/bin/$tool"
  chmod +x "$3/bin/$tool"
done
"""
PHASES = (
    "==> creating the virtualenv",
    "==> installing tiation and its dependencies",
    "==> running the demo",
)


def _make(tmp_path: Path, target: str) -> list[str]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    for name in ("Makefile", "pyproject.toml"):
        if not (tmp_path / name).exists():  # a fresh copy would be newer than the venv's stamp
            shutil.copy(ROOT / name, tmp_path / name)
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    proc = subprocess.run(
        ["make", "--no-print-directory", target, f"PY={fake}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines()


def test_make_demo_announces_each_phase_in_order(tmp_path: Path) -> None:
    lines = _make(tmp_path, "demo")
    at = [next(i for i, line in enumerate(lines) if line.startswith(phase)) for phase in PHASES]
    assert at == sorted(at), lines
    assert lines.index(".venv/bin/python examples/ecosystem/demo.py") > at[2]
    calls = (tmp_path / ".venv" / "calls").read_text().splitlines()
    assert calls == [
        "pip install -q --upgrade pip",
        "pip install -q -e .[dev]",
        "python examples/ecosystem/demo.py",
    ]


def test_a_second_make_demo_skips_the_install_phases(tmp_path: Path) -> None:
    _make(tmp_path, "demo")
    lines = _make(tmp_path, "demo")
    assert [line for line in lines if line.startswith("==>")] == [
        "==> running the demo (examples/ecosystem/demo.py)"
    ]


def test_other_targets_print_no_phase_lines(tmp_path: Path) -> None:
    lines = _make(tmp_path, "venv")
    assert not [line for line in lines if line.startswith("==>")], lines
