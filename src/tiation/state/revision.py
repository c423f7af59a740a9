"""The schema revision the code expects (kept free of SQLAlchemy so fast read paths can check it)."""

HEAD_REVISION = "0004"
"""The newest migration revision; `alembic_version` holds this when the schema is current."""
