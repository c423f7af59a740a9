"""The JSON-ready form of result records."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import MappingProxyType

from tiation.alerting.model import IngestResult
from tiation.deploy.executor import Outcome
from tiation.records import record_dict


@dataclass(frozen=True)
class _Sample:
    name: str
    tags: tuple[str, ...] = ()
    timings: MappingProxyType[str, float] = field(default_factory=lambda: MappingProxyType({"a": 1.0}))
    nested: tuple[tuple[int, ...], ...] = ((1, 2),)


def test_fields_in_order_with_plain_containers() -> None:
    out = record_dict(_Sample("x", ("a", "b")))
    assert list(out) == ["name", "tags", "timings", "nested"]
    assert out["tags"] == ["a", "b"] and type(out["tags"]) is list
    assert type(out["timings"]) is dict and out["timings"] == {"a": 1.0}
    assert out["nested"] == [(1, 2)]  # shallow: values inside are as they are


def test_results_serialise_as_before() -> None:
    ingest = IngestResult(received=2, new=1, duplicates=1, incidents=("i1",))
    assert ingest.to_dict() == {
        "received": 2,
        "new": 1,
        "duplicates": 1,
        "resolved": 0,
        "acknowledged": 0,
        "silenced": 0,
        "incidents": ["i1"],
    }
    outcome = Outcome("web", "succeeded", "v2", timings=MappingProxyType({"probe": 0.5}))
    assert json.loads(json.dumps(outcome.to_dict())) == {
        "service": "web",
        "status": "succeeded",
        "version": "v2",
        "deployment_id": None,
        "verdict": "",
        "rolled_back_to": None,
        "rollback_deployment_id": None,
        "timings": {"probe": 0.5},
    }
