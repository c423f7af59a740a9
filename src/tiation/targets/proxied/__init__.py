"""Instances on their own ports behind a per-service TCP proxy: the base of the local and compose targets."""
