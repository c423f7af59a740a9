"""Alert handling: intake, fingerprint, dedup, grouping, silences, routing, escalation, notifiers, outbox."""
