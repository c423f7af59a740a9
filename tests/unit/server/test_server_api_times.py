"""The management API's override body: a time the store cannot hold is a 422 on its field, not a store error."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tiation.server.api import OverrideRequest

GOOD = {"person": "ann", "start": "2026-03-01T12:00:00Z", "end": "2026-03-01T18:00:00+01:00"}


def test_a_valid_override_body() -> None:
    body = OverrideRequest.model_validate_json(json.dumps(GOOD))
    assert body.end.utcoffset() is not None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("start", "0001-01-01T00:00:00+14:00", "out of range"),
        ("end", "9999-12-31T23:59:59-14:00", "out of range"),
    ],
)
def test_times_outside_the_utc_range_are_refused(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        OverrideRequest.model_validate_json(json.dumps({**GOOD, field: value}))
    (error,) = caught.value.errors()
    assert error["loc"] == (field,)
    assert message in error["msg"]
