"""The JSON-ready form of a result record (a dataclass): its fields in order, containers as plain lists/dicts."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


def record_dict(record: Any) -> dict[str, Any]:
    """Every field of the dataclass instance `record`, by name and in declaration order, with tuples as lists
    and mappings as dicts (shallow: the values inside are taken as they are)."""
    return {field.name: _plain(getattr(record, field.name)) for field in dataclasses.fields(record)}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value
