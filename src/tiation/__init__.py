"""tiation: one tool for deploys, backups, alerting, on-call and compliance."""

__version__ = "0.1.0"
