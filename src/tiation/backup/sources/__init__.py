"""What a backup reads from: PostgreSQL (pg_dump), SQLite (online backup API), files (tar)."""
