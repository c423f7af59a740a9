"""A tiny HTTP service standing in for the seed's services (liberation-system, ai-agents, …).

`GET /health` answers 200 when healthy; `GET /` names the service and version. How a version behaves is read
from versions.json beside this file, so some releases are broken in the ways real releases break:
  exit-at-start   dies before opening its port (bad config), exit code 3
  never-healthy   serves, but /health stays 503 (waiting on something that never comes)
  crash-after     healthy for a moment, then the process dies (a leak, a panic on the first real request)
  unhealthy-after healthy for a moment, then /health answers 503 while the process stays up (a lost connection)
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def behaviour(name: str, version: str) -> dict[str, object]:
    table = json.loads((Path(__file__).parent / "versions.json").read_text())
    found = table.get(name, {}).get(version, {"mode": "healthy"})
    assert isinstance(found, dict)
    return found


def _open_db(path: str) -> sqlite3.Connection:
    """The service's own data: a SQLite file with pages and a visit log (what the example backs up)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS pages(id INTEGER PRIMARY KEY, slug TEXT UNIQUE, body TEXT)")
    conn.execute("CREATE TABLE IF NOT EXISTS visits(id INTEGER PRIMARY KEY, at REAL, path TEXT)")
    if conn.execute("SELECT count(*) FROM pages").fetchone()[0] == 0:
        conn.executemany(
            "INSERT INTO pages(slug, body) VALUES (?, ?)",
            [(f"page-{i}", f"Page {i} of the ecosystem docs. " * 20) for i in range(500)],
        )
    conn.commit()
    return conn


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    how = behaviour(args.name, args.version)
    mode = how.get("mode", "healthy")
    log = f"[{args.name} {args.version}]"
    print(f"{log} starting on {args.host}:{args.port} (mode {mode})", flush=True)
    if mode == "exit-at-start":
        print(f"{log} fatal: {how.get('message', 'invalid configuration')}", flush=True)
        return 3
    started = time.monotonic()
    db_path = os.environ.get("APP_DB")
    lock = threading.Lock()
    db = _open_db(db_path) if db_path else None

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if db is not None and self.path != "/health":
                with lock:
                    db.execute("INSERT INTO visits(at, path) VALUES (?, ?)", (time.time(), self.path))
                    db.commit()
            if self.path == "/health":
                ok = mode != "never-healthy" and not (
                    mode == "unhealthy-after"
                    and time.monotonic() - started >= float(str(how.get("seconds", 2)))
                )
                body = {"status": "ok" if ok else "starting", "version": args.version}
                self._send(200 if ok else 503, body)
            else:
                self._send(
                    200,
                    {
                        "service": args.name,
                        "version": args.version,
                        "database": "configured" if os.environ.get("DATABASE_URL") else "none",
                    },
                )

        def _send(self, code: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *a: object) -> None:
            return

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    if mode == "crash-after":
        after = float(str(how.get("seconds", 2)))

        def crash() -> None:
            time.sleep(after)
            print(
                f"{log} panic: {how.get('message', 'unexpected state')} after {time.monotonic() - started:.1f}s",
                flush=True,
            )
            os._exit(1)

        threading.Thread(target=crash, daemon=True).start()
    print(f"{log} listening", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
