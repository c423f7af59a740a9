"""Validation errors (pydantic) as ConfigErrors, one line per mistake, in the order they appear in the file.

Every pydantic error is located in the ruamel tree (see `tiation.config.positions`) and given a plain
message; they are sorted by position and capped (`MAX_ERRORS`). Messages never show values that may be secrets.
"""

from __future__ import annotations

import re
import types
from datetime import date
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from tiation.config.base import NAME_PATTERN
from tiation.config.models import Platform
from tiation.config.positions import Position, Walk, describe, walk
from tiation.errors import ConfigError, ConfigErrors, did_you_mean
from tiation.redact import redact

_TYPE_NAMES = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "none_required": "nothing",
}
_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "less_than_equal": ("at most", "le"),
    "greater_than": ("greater than", "gt"),
    "less_than": ("less than", "lt"),
}
_HIDDEN_KEYS = frozenset({"env"})
"""Values inside these mappings may be secrets written by mistake: describe them by kind only."""


MAX_ERRORS = 20
"""At most this many mistakes are reported at once (the rest are counted)."""


def translate(exc: ValidationError, root: Any, file: str) -> ConfigErrors:
    """Every error of `exc` by position in the file, as ConfigErrors (each: field path, line, column)."""
    return located_errors([_locate(err, root) for err in exc.errors(include_url=False)], file)


def located_errors(located: list[tuple[Position, str, str]], file: str) -> ConfigErrors:
    """(position, field path, message) triples as ConfigErrors: sorted, duplicates dropped, capped."""
    unique = sorted(dict.fromkeys(located), key=lambda item: item[0])  # ties keep their order
    errors = [
        ConfigError(redact(message), file=file, line=pos[0], column=pos[1], field=field or None)
        for pos, field, message in unique[:MAX_ERRORS]
    ]
    return ConfigErrors(errors, more=max(0, len(unique) - MAX_ERRORS))


def _locate(err: ErrorDetails, root: Any) -> tuple[Position, str, str]:
    kind = err["type"]
    here = walk(root, err["loc"])
    if kind == "missing" and here.leftover is not None:
        return here.key_pos, here.field_path, f"missing required key {here.leftover!r}"
    if kind == "extra_forbidden" and here.steps:
        return here.key_pos, here.field_path, _unknown_key(here)
    if here.key_error and here.steps:
        return here.key_pos, here.field_path, _key_message(err, here.steps[-1][0])
    hide = any(not is_index and key in _HIDDEN_KEYS for key, is_index in here.steps)
    hide = hide or here.field_path == "state.url"
    return here.value_pos, here.field_path, _value_message(err, hide)


def _unknown_key(here: Walk) -> str:
    key = here.steps[-1][0]
    known = _field_names(here.steps[:-1])
    close = did_you_mean(str(key), known)
    hint = f" (did you mean {close!r}?)" if close else ""
    return f"unknown key {describe(key)}{hint}"


def _key_message(err: ErrorDetails, key: Any) -> str:
    if err["type"] == "string_pattern_mismatch" and isinstance(key, str):
        return _name_message(key, err)
    if err["type"] == "string_type":
        return f"a key here must be a name, got {describe(key)}"
    return f"invalid key {describe(key)}: {_lower_first(err['msg'])}"


def _name_message(name: str, err: ErrorDetails) -> str:
    if err.get("ctx", {}).get("pattern") != NAME_PATTERN:
        return f"{describe(name)} does not match the pattern {err.get('ctx', {}).get('pattern')!r}"
    if re.fullmatch(r"[a-z0-9-]+", name):
        return f"invalid name {describe(name)}: start and end with a letter or digit, at most 63 characters"
    return f"invalid name {describe(name)}: use lowercase letters, digits and '-'"


def _value_message(err: ErrorDetails, hide: bool) -> str:
    kind, ctx = err["type"], err.get("ctx", {})
    got = describe(err["input"], hide=hide)
    if kind in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[kind]}, got {got}{_quoting_hint(kind, err['input'])}"
    if kind == "literal_error":
        choices = str(ctx.get("expected", "")).replace(" or ", ", ")
        return f"expected one of {choices}, got {got}" if "," in choices else f"expected {choices}, got {got}"
    if kind == "string_pattern_mismatch" and isinstance(err["input"], str) and not hide:
        return _name_message(err["input"], err)
    if kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        return f"must be {words} {ctx.get(key)}, got {got}"
    if kind == "too_short":
        least = int(ctx.get("min_length", 1))
        return "needs at least one entry" if least == 1 else f"needs at least {least} entries"
    if kind == "too_long":
        return f"allows at most {ctx.get('max_length')} entries"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    return _lower_first(err["msg"])


def _quoting_hint(kind: str, value: Any) -> str:
    """The usual YAML slip: `version: 1.10` is a number, `port: "8080"` is a string."""
    if kind == "string_type" and isinstance(value, int | float | date):
        return " (put it in quotes)"
    if kind in ("int_type", "float_type") and isinstance(value, str) and _is_number(value):
        return " (remove the quotes)"
    return ""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _field_names(steps: list[tuple[Any, bool]]) -> list[str]:
    """The keys allowed in the model at `steps` (for "did you mean"), or [] if it is not a model."""
    tp: Any = Platform
    for key, _is_index in steps:
        tp = _child_type(tp, key)
        if tp is None:
            return []
    tp = _unwrap(tp)
    if get_origin(tp) is None and isinstance(tp, type) and issubclass(tp, BaseModel):
        return [info.alias or name for name, info in tp.model_fields.items()]
    return []


def _child_type(tp: Any, key: Any) -> Any:
    tp = _unwrap(tp)
    origin = get_origin(tp)
    if origin is dict:
        return get_args(tp)[1]
    if origin is list:
        return get_args(tp)[0]
    if origin is None and isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(key, str):
        by_key = {info.alias or name: info for name, info in tp.model_fields.items()}
        info = by_key.get(key)
        return info.annotation if info is not None else None
    return None


def _unwrap(tp: Any) -> Any:
    """Strip `Annotated[...]` and `X | None` down to the type that holds the value."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp
