"""The `kubernetes` target: server-side apply, rollout watch, fail-fast classifier, bundle rollback."""
