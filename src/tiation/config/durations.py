"""Durations as written in the platform file: `500ms`, `30s`, `5m`, `1h30m`, `2d`, or a number of seconds."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: Any) -> timedelta:
    """Parse a duration; raise ValueError with a readable message when it is not one."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '30s' or '5m', got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"expected a duration like '30s', '5m' or '1h30m', got {value!r}")
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        return _seconds(float(value), value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("0", "none"):
            return timedelta(0)
        pos, total = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if text and pos == len(text):
            return _seconds(total, value)
    raise ValueError(f"expected a duration like '30s', '5m' or '1h30m', got {value!r}")


def _seconds(seconds: float, written: Any) -> timedelta:
    # timedelta raises OverflowError (not ValueError) past ~2.7 million years; pydantic only reports
    # ValueError.
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"a duration is too large, got {written!r}") from None


def format_duration(value: timedelta) -> str:
    """Render a duration compactly (`90s` -> `1m30s`)."""
    ms = round(value.total_seconds() * 1000)
    if ms % 1000:
        return f"{ms}ms"
    seconds = ms // 1000
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
