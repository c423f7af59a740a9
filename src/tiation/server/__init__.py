"""`tiation serve`: the HTTP control plane (intake, on-call API, metrics)."""
