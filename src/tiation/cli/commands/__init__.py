"""CLI subcommands (imported lazily by tiation.cli.main)."""
