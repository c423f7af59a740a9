"""Where backups are kept: a directory, S3, memory (tests)."""
