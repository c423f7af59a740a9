"""TCP proxy of one local service: `python -m tiation.targets.local_proxy --dir SERVICE_DIR --port PORT`.

It listens on the public port and forwards each connection to the serving instance named in
`SERVICE_DIR/serving.json`. That file is re-read whenever it changes (checked on every accepted connection),
so a switch takes effect for the next connection while connections already open keep their upstream.
On SIGHUP it re-reads at once, then waits until no connection to another upstream is left ("drained") and
says so in `SERVICE_DIR/proxy.json`: the target waits for that before it stops the previous instance.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tiation.clock import SystemClock
from tiation.targets.proxied.common import atomic_write_json, detach, proc_start_ticks, read_json

CONNECT_TIMEOUT = 5.0
HALF_CLOSE_GRACE = 2.0  # after the upstream has finished, how long the client may still send
CHUNK = 65536
_UNREAD = object()


@dataclass(frozen=True)
class Upstream:
    """Where new connections go."""

    instance_id: str
    host: str
    port: int


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Copy until EOF (then half-close the other side): True; on a connection error: False."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        return False
    return True


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


class Proxy:
    """The forwarding state of one proxy process."""

    def __init__(self, service_dir: Path, host: str, port: int) -> None:
        self.serving_path = service_dir / "serving.json"
        self.state_path = service_dir / "proxy.json"
        self.host, self.port = host, port
        self.upstream: Upstream | None = None
        self.active: Counter[str] = Counter()
        self._signature: object = _UNREAD
        self._tasks: set[asyncio.Task[None]] = set()
        self._drain: asyncio.Task[None] | None = None
        self._clock = SystemClock()
        self._started_at = self._clock.now().isoformat()

    def refresh(self) -> None:
        """Re-read serving.json if it changed (a new inode, mtime or size)."""
        try:
            st = self.serving_path.stat()
            signature: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            signature = None
        if signature == self._signature:
            return
        self._signature = signature
        data = read_json(self.serving_path) if signature is not None else None
        try:
            self.upstream = (
                Upstream(str(data["instance_id"]), str(data["host"]), int(data["port"])) if data else None
            )
        except (KeyError, TypeError, ValueError):
            self.upstream = None

    def write_state(self, *, drained: bool) -> None:
        """Tell the target where traffic goes now and whether older upstreams have drained."""
        up = self.upstream
        state: dict[str, Any] = {
            "pid": os.getpid(),
            "start_ticks": proc_start_ticks(os.getpid()),
            "host": self.host,
            "port": self.port,
            "state": "listening",
            "started_at": self._started_at,
            "upstream": {"instance_id": up.instance_id, "host": up.host, "port": up.port} if up else None,
            "drained": drained,
            "updated_at": self._clock.now().isoformat(),
        }
        atomic_write_json(self.state_path, state)

    def _others_active(self) -> int:
        current = self.upstream.instance_id if self.upstream else None
        return sum(n for key, n in self.active.items() if key != current)

    async def _drain_then_report(self) -> None:
        self.write_state(drained=self._others_active() == 0)
        while self._others_active():
            await asyncio.sleep(0.05)
        self.write_state(drained=True)

    def reload(self) -> None:
        """SIGHUP: re-read now, then report when connections to older upstreams are done."""
        self._signature = _UNREAD
        self.refresh()
        if self._drain is not None:
            self._drain.cancel()
        self._drain = asyncio.get_running_loop().create_task(self._drain_then_report())

    async def handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        """Forward one client connection to the current upstream (or close it if there is none)."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.refresh()
        up = self.upstream
        if up is not None:
            self.active[up.instance_id] += 1
        try:
            if up is not None:
                await self._forward(up, creader, cwriter)
        finally:
            if up is not None:
                self.active[up.instance_id] -= 1
                if self.active[up.instance_id] <= 0:
                    del self.active[up.instance_id]
            await _close(cwriter)
            if task is not None:
                self._tasks.discard(task)

    async def _forward(
        self, up: Upstream, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter
    ) -> None:
        try:
            ureader, uwriter = await asyncio.wait_for(
                asyncio.open_connection(up.host, up.port), timeout=CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError):
            return
        try:
            to_up = asyncio.create_task(_pipe(creader, uwriter))
            to_client = asyncio.create_task(_pipe(ureader, cwriter))
            done, pending = await asyncio.wait({to_up, to_client}, return_when=asyncio.FIRST_COMPLETED)
            if all(t.result() for t in done) and pending:
                # A client that finished sending may wait long for the answer; an upstream that has
                # answered and closed leaves an idle client only a short grace.
                timeout = None if to_up in done else HALF_CLOSE_GRACE
                done, pending = await asyncio.wait(pending, timeout=timeout)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        finally:
            await _close(uwriter)

    async def serve(self) -> int:
        """Listen until SIGTERM/SIGINT; 1 if the port cannot be bound."""
        self.refresh()
        try:
            server = await asyncio.start_server(
                self.handle, self.host, self.port, reuse_address=True, backlog=512
            )
        except OSError as exc:
            error = f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            print(error, file=sys.stderr, flush=True)
            atomic_write_json(self.state_path, {"pid": os.getpid(), "state": "failed", "error": error})
            return 1
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        self.write_state(drained=True)
        print(f"proxy listening on {self.host}:{self.port} (pid {os.getpid()})", file=sys.stderr, flush=True)
        async with server:
            await stop.wait()
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._drain is not None:
                self._drain.cancel()
        atomic_write_json(self.state_path, {"pid": os.getpid(), "state": "stopped"})
        print("proxy stopped", file=sys.stderr, flush=True)
        return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse arguments, detach, serve."""
    parser = argparse.ArgumentParser(prog="tiation.targets.local_proxy")
    parser.add_argument("--dir", required=True, type=Path, help="the service directory (serving.json)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--pid-file", type=Path, help="detach, and write the proxy's pid here")
    args = parser.parse_args(argv)
    if args.pid_file is not None:
        detach(args.pid_file)
    return asyncio.run(Proxy(args.dir, args.host, args.port).serve())


if __name__ == "__main__":
    sys.exit(main())
