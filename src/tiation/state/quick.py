"""Read-only queries for commands whose start-up time matters (`tiation status`), over the stdlib `sqlite3`.

Importing SQLAlchemy costs about as much as everything else `status` does together, so for the default SQLite
store the one query `status` needs is answered here. It returns the same row type through the same mapper as
the store, and answers None whenever it cannot be sure (not SQLite, no database yet, a schema other than
`HEAD_REVISION`, any driver error): the caller then uses `StateStore`. A test holds both paths to the same
answers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

from tiation.state.revision import HEAD_REVISION
from tiation.state.rows import DeploymentRow, deployment_row

_SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")
_LATEST = "SELECT * FROM deployments WHERE environment = ? AND service = ? ORDER BY started_at DESC, seq DESC LIMIT 1"


def _sqlite_path(url: str) -> Path | None:
    for prefix in _SQLITE_PREFIXES:
        if url.startswith(prefix) and "?" not in url:
            path = url[len(prefix) :]
            return Path(path) if path and path != ":memory:" else None
    return None


def latest_deployments(
    url: str, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], DeploymentRow | None] | None:
    """The newest deployment of each (environment, service), or None if this fast path cannot answer."""
    path = _sqlite_path(url)
    if path is None or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        with closing(conn):
            conn.row_factory = sqlite3.Row
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            if revision is None or revision[0] != HEAD_REVISION:
                return None
            out: dict[tuple[str, str], DeploymentRow | None] = {}
            for env, svc in pairs:
                row = conn.execute(_LATEST, (env, svc)).fetchone()
                out[(env, svc)] = None if row is None else deployment_row(row)
            return out
    except sqlite3.Error:
        return None
