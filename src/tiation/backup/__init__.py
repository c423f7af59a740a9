"""The backup pillar: streaming, compressed, encrypted, checksummed backups; retention; verify; restore."""
