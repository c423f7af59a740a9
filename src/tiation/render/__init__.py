"""Rendering the platform file into what other tools read (Prometheus rules, Alertmanager config, …)."""
