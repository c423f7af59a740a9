"""What the intake parsers share: the error type, strict wire models and their one-line errors.

Wire models are pydantic, strict (no coercion: `"3"` is not a number, `1` is not a string). Their errors are
turned into one line naming the JSON path of the first problem (`alerts[3].labels: expected an object of
strings`). No message ever contains a value from the request: paths come from the schema (an unknown key is
reported at its parent, with the allowed names), and messages are fixed text.

Before any model sees it, the whole decoded body is checked for text that UTF-8 cannot encode: a lone UTF-16
surrogate (JSON `"\\ud800"` decodes to one, and every notifier and the store would fail on it) in any string
or key, known field or not. Such a body is refused (422 naming the field), never stored. Times must be
representable in UTC (`9999-12-31T23:59:59-14:00` is not).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError, WithJsonSchema

from tiation.alerting.model import AlertEvent, Status
from tiation.errors import AlertError

M = TypeVar("M", bound=BaseModel)


class IntakeError(AlertError):
    """A request body that does not fit its intake's format. `field` is the JSON path (None: the whole body)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


class Wire(BaseModel):
    """Base of the wire formats of third-party senders: strict types, unknown keys ignored (they grow)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class ClosedWire(Wire):
    """Base of tiation's own wire format: unknown keys are errors (they are typos)."""

    model_config = ConfigDict(extra="forbid")


class WireAlert(Protocol):
    """What an intake's parsed alert has in common with the pipeline's `AlertEvent`."""

    @property
    def status(self) -> Status:
        """Firing, resolved or acknowledged."""
        ...

    @property
    def labels(self) -> Mapping[str, str]:
        """The alert's labels."""
        ...

    @property
    def annotations(self) -> Mapping[str, str]:
        """The alert's annotations."""
        ...

    @property
    def starts_at(self) -> datetime | None:
        """When it started firing, if the source said."""
        ...

    @property
    def ends_at(self) -> datetime | None:
        """When it stopped, if the source said."""
        ...


def alert_event(
    source: str, alert: WireAlert, *, generator_url: str | None, dedup_key: str | None = None
) -> AlertEvent:
    """The pipeline's event for one parsed wire alert."""
    return AlertEvent(
        source=source,
        status=alert.status,
        labels=alert.labels,
        annotations=alert.annotations,
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        generator_url=generator_url,
        dedup_key=dedup_key,
    )


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError("expected an object of strings")
    return value


def _labels(value: Any) -> dict[str, str]:
    labels = _str_map(value)
    if not labels:
        raise ValueError("expected at least one label (an alert is identified by its labels)")
    if "" in labels:
        raise ValueError("a label name must not be empty")
    return labels


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("expected an RFC 3339 time as a string")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("expected an RFC 3339 time such as 2026-03-01T12:00:00Z") from None
    if when.tzinfo is None:
        raise ValueError("expected an RFC 3339 time with an offset (Z or +hh:mm)")
    if when.year <= 1:
        return None  # Go's zero time: Alertmanager's "no end time"
    try:
        when.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range: the time in UTC must lie between the years 1 and 9999") from None
    return when


_TIME_SCHEMA = {"type": "string", "format": "date-time"}

StrMap = Annotated[
    dict[str, str],
    PlainValidator(_str_map),
    WithJsonSchema({"type": "object", "additionalProperties": {"type": "string"}}),
]
"""A JSON object whose values are all strings (labels, annotations)."""

Labels = Annotated[
    dict[str, str],
    PlainValidator(_labels),
    WithJsonSchema({"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1}),
]
"""A non-empty label set: the alert's identity."""

Timestamp = Annotated[datetime | None, PlainValidator(_timestamp), WithJsonSchema(_TIME_SCHEMA)]
"""An RFC 3339 time with an offset; Go's zero time (`0001-01-01T00:00:00Z`) means none."""


def _path(loc: tuple[int | str, ...]) -> str | None:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    fixed = {
        "missing": "required",
        "string_type": "expected a string",
        "int_type": "expected an integer",
        "bool_type": "expected true or false",
        "list_type": "expected an array",
        "dict_type": "expected an object",
        "model_type": "expected an object",
        "model_attributes_type": "expected an object",
        "none_required": "expected null",
    }
    if kind in fixed:
        return fixed[kind]
    if kind == "literal_error":
        return f"expected {ctx.get('expected', 'one of the documented values')}"
    if kind == "value_error":
        return str(ctx.get("error", "invalid value"))
    if kind == "string_too_long":
        return f"longer than {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} item(s)"
    if kind == "greater_than_equal":
        return f"expected a number >= {ctx.get('ge')}"
    return "invalid value"


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def _extra(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """'unknown field' reported at the parent, with the allowed names — never the sender's key."""
    target: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int) or target is None:
            continue
        field = target.model_fields.get(part)
        target = _nested_model(field.annotation) if field is not None else None
    if target is None:
        return "unknown field"
    names = [f.alias or name for name, f in target.model_fields.items()]
    return f"unknown field (allowed: {', '.join(names)})"


_SURROGATE = re.compile("[\ud800-\udfff]")
BAD_TEXT = "not UTF-8 text: a lone UTF-16 surrogate (\\ud800-\\udfff) cannot be stored or sent"


def _bad(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


@functools.cache
def _field_names(model: type[BaseModel]) -> frozenset[str]:
    names: set[str] = set()
    todo = [model]
    while todo:
        current = todo.pop()
        for name, info in current.model_fields.items():
            alias = info.alias or name
            if alias not in names:
                names.add(alias)
                nested = _nested_model(info.annotation)
                if nested is not None:
                    todo.append(nested)
    return frozenset(names)


def bad_text_path(data: object, names: frozenset[str]) -> tuple[int | str, ...] | None:
    """The path of the first string or key in `data` that UTF-8 cannot encode, else None.

    Iterative (a deeply nested body must not exhaust the stack). A key is part of the path only when it is one
    of `names` (the format's own field names): any other key is the sender's text and is not repeated back.
    """
    stack: list[tuple[object, tuple[int | str, ...], bool]] = [(data, (), True)]
    while stack:
        value, path, named = stack.pop()  # named: the path still follows the format's own fields
        if isinstance(value, str):
            if _bad(value):
                return path
        elif isinstance(value, dict):
            if any(_bad(key) for key in value):
                return path
            # pushed in reverse: the first bad string in document order is found first
            stack.extend(
                (item, (*path, key), True) if named and key in names else (item, path, False)
                for key, item in reversed(value.items())
            )
        elif isinstance(value, list):
            stack.extend(
                (item, (*path, i) if named else path, named) for i, item in reversed(list(enumerate(value)))
            )
    return None


def validate(model: type[M], data: object) -> M:
    """`model` validated from `data`, or an IntakeError naming the first problem's path."""
    bad = bad_text_path(data, _field_names(model))
    if bad is not None:
        raise IntakeError(BAD_TEXT, field=_path(bad))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        loc = tuple(first["loc"])
        if first["type"] == "extra_forbidden":
            raise IntakeError(_extra(model, loc), field=_path(loc[:-1])) from None
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise IntakeError(_message(first) + more, field=_path(loc)) from None
