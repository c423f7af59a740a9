"""Copy this example somewhere else, on ports that are free there (used by the demo, benchmarks and tests).

The platform file names fixed ports (18081…18284) so that it reads well; a copy gets free ones instead, so the
demo and the test suite run on a machine where something already listens on those.
"""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
_PORT = re.compile(r"\b18[0-2]8\d\b")


def free_ports(count: int) -> list[int]:
    """`count` distinct ports on 127.0.0.1 that are free now (every socket stays bound until all are chosen)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def copy_example(dest: Path, *, ports: Callable[[int], list[int]] = free_ports) -> Path:
    """Copy the example to `dest/ecosystem` with each of its ports replaced by a free one; returns the copy."""
    root = dest / "ecosystem"
    shutil.copytree(
        HERE, root, ignore=shutil.ignore_patterns(".tiation", "__pycache__", "demo.py", "relocate.py")
    )
    text = (root / "tiation.yaml").read_text()
    wanted = sorted(set(_PORT.findall(text)))
    mapping = dict(zip(wanted, map(str, ports(len(wanted))), strict=True))
    (root / "tiation.yaml").write_text(_PORT.sub(lambda m: mapping[m.group(0)], text))
    return root
