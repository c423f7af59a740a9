"""A fake alert engine, shipped for tests and benchmarks: it records events and counts simple decisions.

`RecordingIngestor` keeps every committed batch (unless `keep=False`) and the state of each fingerprint
(firing, acknowledged, resolved), so a repeated alert counts as a duplicate, as the real engine would. It has
no incidents, routes or timers. `commit_delay` stands in for a transaction's cost; `fail_when` makes chosen
groups fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from tiation.alerting.model import AlertEvent, IngestResult
from tiation.errors import StateError


class RecordingIngestor:
    """Records ingested events; implements both `Ingestor` and `GroupIngestor`."""

    def __init__(
        self,
        *,
        commit_delay: float = 0.0,
        fail_when: Callable[[Sequence[AlertEvent]], bool] | None = None,
        keep: bool = True,
    ) -> None:
        self.commit_delay = commit_delay
        self.fail_when = fail_when
        self.keep = keep
        """False: count decisions but do not keep the events (long benchmarks: no growing heap)."""
        self.batches: list[list[Sequence[AlertEvent]]] = []
        """Committed transactions, each a list of groups (requests)."""
        self._state: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def events(self) -> list[AlertEvent]:
        """Every committed event, in commit order."""
        with self._lock:
            return [e for batch in self.batches for group in batch for e in group]

    def ingest(self, events: Sequence[AlertEvent]) -> IngestResult:
        """One request, one transaction."""
        return self.ingest_groups([events])[0]

    def ingest_groups(self, groups: Sequence[Sequence[AlertEvent]]) -> list[IngestResult]:
        """Several requests, one transaction: all of them are recorded, or (on failure) none."""
        if self.fail_when is not None and any(self.fail_when(g) for g in groups):
            raise StateError("fake ingest failure", retryable=True)
        if self.commit_delay:
            time.sleep(self.commit_delay)
        with self._lock:
            results = [self._decide(group) for group in groups]
            if self.keep:
                self.batches.append(list(groups))
        return results

    def _decide(self, events: Sequence[AlertEvent]) -> IngestResult:
        new = duplicates = resolved = acknowledged = 0
        for event in events:
            key = event.fingerprint
            before = self._state.get(key)
            if event.status == "resolved":
                resolved += before is not None and before != "resolved"
            elif event.status == "acknowledged":
                acknowledged += before == "firing"
            elif before in ("firing", "acknowledged"):
                duplicates += 1
                continue
            else:
                new += 1
            self._state[key] = event.status
        return IngestResult(
            received=len(events), new=new, duplicates=duplicates, resolved=resolved, acknowledged=acknowledged
        )
