"""README.md's "A short tour" runs on a copy of the example, command by command, with the exit codes it implies.

The commands are parsed out of README.md, so the README and this test cannot drift apart. Each line runs as
written (`tiation …` is `python -m tiation …`, from the copy's directory as after `cd examples/ecosystem`),
with three documented adaptations:

- `cd examples/ecosystem` runs every later command in the copy (on free ports: see `fixtures.eco`);
- `tiation serve &` runs as a real background server, on a free port (`--port`: 8080 may be taken here),
  and is stopped after the tour;
- `<deployment-id>` is the id the previous failed deploy printed (`See: tiation why ID`).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx

from fixtures.common import free_port
from fixtures.eco import Eco

README = Path(__file__).resolve().parents[2] / "README.md"

EXPECTED_EXIT = {
    "tiation deploy local cms 1.2.0": 1,  # the broken release: fails fast, the serving version stays
    "tiation status --json": 3,  # a fresh clone has no kubeconfig: `cluster` is unreachable, something unknown
}
"""Every other command of the tour must exit 0."""


def tour_lines(readme: str) -> list[str]:
    """The commands of the tour's bash block, comments and blank lines dropped."""
    section = readme.split("## A short tour", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [re.split(r"\s#\s", line, maxsplit=1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line]


def test_the_tour_is_parsed_and_every_non_zero_exit_is_a_tour_command() -> None:
    lines = tour_lines(README.read_text())
    assert lines[0] == "cd examples/ecosystem" and "tiation serve &" in lines
    assert set(EXPECTED_EXIT) <= set(lines)
    assert all(line.startswith(("cd ", "export ", "tiation ")) for line in lines), lines
    assert not [line for line in lines if "<" in line and "<deployment-id>" not in line], (
        "unfilled placeholders"
    )


def test_the_readme_tour_runs_as_written(eco: Eco) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIATION_") and k != "PYTEST_CURRENT_TEST"}
    server: subprocess.Popen[str] | None = None
    last_deployment = ""
    ran: list[tuple[str, int]] = []
    try:
        for line in tour_lines(README.read_text()):
            if line.startswith("cd "):
                assert line == "cd examples/ecosystem"
                continue
            if line.startswith("export "):
                name, value = line.removeprefix("export ").split("=", 1)
                env[name] = value
                continue
            if line.endswith("&"):
                server = _serve(eco.root, env, shlex.split(line[:-1]))
                continue
            args = shlex.split(line.replace("<deployment-id>", last_deployment))
            proc = subprocess.run(
                [sys.executable, "-m", "tiation", *args[1:]],
                cwd=eco.root,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            ran.append((line, proc.returncode))
            expected = EXPECTED_EXIT.get(line, 0)
            assert proc.returncode == expected, (
                f"{line!r} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
            )
            assert "Traceback" not in proc.stderr
            found = re.search(r"See: tiation why (\w+)", proc.stdout)
            last_deployment = found.group(1) if found else last_deployment
    finally:
        if server is not None:
            server.terminate()
            server.communicate(timeout=30)
    assert server is not None and server.returncode == 0
    assert len(ran) >= 20, ran


def _serve(root: Path, env: dict[str, str], args: list[str]) -> subprocess.Popen[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tiation", *args[1:], "--port", str(port)],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.kill()
    raise AssertionError(f"tiation serve did not answer /healthz: {server.communicate()}")
