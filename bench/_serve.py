"""Shared by the intake benchmarks: a free loopback port, waiting for a server, and `tiation serve` on a
platform file written into a work directory (optionally another checkout's code, for "before" figures)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

__all__ = ["free_port", "serve_platform", "stop", "wait_ready"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 60) -> None:
    """Return once `url` answers 200; exit the benchmark if the server died or did not get ready in time."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server did not start; see {log}")
        time.sleep(0.1)


def serve_platform(
    work: Path, text: str, *, env: dict[str, str] | None = None, src: Path | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """`tiation -f work/tiation.yaml serve` on a free port (no access log), ready; with `src`, that checkout's
    `src/` is imported instead of this one's (this interpreter's packages)."""
    port = free_port()
    platform = work / "tiation.yaml"
    platform.write_text(text)
    environ = {**os.environ, **(env or {})}
    if src is not None:
        environ["PYTHONPATH"] = str(src / "src")
    argv = [
        sys.executable,
        "-m",
        "tiation",
        "-f",
        str(platform),
        "serve",
        "--port",
        str(port),
        "--no-access-log",
    ]
    log = work / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, cwd=work, env=environ, start_new_session=True
        )
    wait_ready(proc, f"http://127.0.0.1:{port}/healthz", log)
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group and wait for it."""
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)
