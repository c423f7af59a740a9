"""Alembic environment for the state store, run only through `tiation.state.migrate` (no alembic.ini).

The caller hands over an open connection that is already inside a transaction (and, on PostgreSQL, holds an
advisory lock), so two processes migrating the same empty database at once run one after the other.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from tiation.state.schema import metadata

_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):  # pragma: no cover - only reachable by misuse
    raise RuntimeError("the state migrations run only through tiation.state.migrate")

context.configure(connection=_connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
