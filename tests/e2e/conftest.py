"""End-to-end fixtures: the example ecosystem in a temp dir, on free ports, driven through the real CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fixtures.common import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ecosystem"
SECRET = "planted-s3cret-9d1e7c"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Eco:
    """A copy of the example ecosystem and a way to run `tiation` against it."""

    root: Path
    env: dict[str, str]
    outputs: list[str] = field(default_factory=list)

    @property
    def file(self) -> Path:
        return self.root / "tiation.yaml"

    def tiation(self, *args: str, expect: int | None = 0, extra_env: dict[str, str] | None = None) -> Run:
        proc = subprocess.run(
            [sys.executable, "-m", "tiation", *args],
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        run = Run(proc.returncode, proc.stdout, proc.stderr)
        self.outputs.append(run.out)
        if expect is not None:
            assert run.code == expect, f"tiation {' '.join(args)} exited {run.code}:\n{run.out}"
        return run

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "tiation", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def serving(self, service: str, environment: str = "local") -> str | None:
        rows = self.tiation("status", environment, "--json").json()["services"]
        return next(r["version"] for r in rows if r["service"] == service)

    def edit(self, old: str, new: str) -> None:
        text = self.file.read_text()
        assert old in text
        self.file.write_text(text.replace(old, new))


def _copy_example(dest: Path) -> Path:
    root = dest / "ecosystem"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".tiation", "__pycache__", "demo.py"))
    text = (root / "tiation.yaml").read_text()
    ports = {p: str(free_port()) for p in sorted(set(re.findall(r"\b18[0-2]8\d\b", text)))}
    text = re.sub(r"\b18[0-2]8\d\b", lambda m: ports[m.group(0)], text)
    # Keep the suite quick: a shorter stability window than the demo's (the crash-after versions die at 1.5 s).
    text = text.replace("stable_for: 3s", "stable_for: 2s")
    (root / "tiation.yaml").write_text(text)
    return root


@pytest.fixture
def eco(tmp_path: Path) -> Iterator[Eco]:
    root = _copy_example(tmp_path)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TIATION_") and k not in ("PYTEST_CURRENT_TEST",)
    }
    env.update(
        TIATION_FILE=str(root / "tiation.yaml"),
        TIATION_ACTOR="alice",
        TIATION_DEMO_DATABASE_URL=f"postgresql://app:{SECRET}@db.internal:5432/tiation",
    )
    eco = Eco(root, env)
    try:
        yield eco
    finally:
        for environment in ("local", "staging", "production"):
            subprocess.run(
                [sys.executable, "-m", "tiation", "stop", environment],
                env=env,
                capture_output=True,
                check=False,
            )
        leftovers = _our_processes(root)
        assert not leftovers, f"processes left running: {leftovers}"


def _our_processes(root: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            cwd = ""
        if str(root) in cmdline or cwd == str(root):
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found
