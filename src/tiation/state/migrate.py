"""Schema migrations through alembic's API. Imported only when a database is empty or behind.

The scripts live in `migrations/` inside the package (no alembic.ini). Migrating runs in one write transaction
(SQLite: `BEGIN IMMEDIATE`; PostgreSQL: plus an advisory lock), so concurrent first opens of the same database
migrate once; the loser finds the schema current and does nothing.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from tiation.errors import StateError
from tiation.state.db import Database, current_revision

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 0x7469_6174  # "tiat": serializes migrations on a shared PostgreSQL database


def alembic_config() -> Config:
    """An alembic Config pointing at the packaged migration scripts."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return cfg


def script_head() -> str:
    """The newest revision among the packaged migration scripts."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise StateError("no state migrations found in the tiation package")
    return head


def upgrade(db: Database, seen_revision: str | None) -> None:
    """Bring the schema of `db` to the newest revision (a no-op if another process just did)."""
    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    known = {rev.revision for rev in script.walk_revisions()}
    if seen_revision is not None and seen_revision not in known:
        raise StateError(
            f"state store {db.url_display} has schema revision {seen_revision},"
            " which this tiation does not know; upgrade tiation"
        )
    with db.write() as conn:
        if db.backend == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        if current_revision(conn) == script.get_current_head():
            return
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
