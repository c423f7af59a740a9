"""Where things are in the platform file.

The ruamel round-trip tree keeps a 0-based (line, column) for every key, value and list item; this module
turns that tree into plain Python values for validation and answers "where is this path?" with 1-based
positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.scalarbool import ScalarBoolean

from tiation.errors import ConfigError

Position = tuple[int, int]
"""1-based (line, column)."""

START: Position = (1, 1)


@dataclass
class Walk:
    """The result of following a path into the tree.

    `steps` are the parts found in the file, each `(key, is_index)`; `key_pos` is where the reached node is
    named (its key, or its list item), `value_pos` where its value starts. `leftover` is a trailing part that
    is not in the file (a missing key, or an internal part of a validation error location).
    """

    node: Any
    steps: list[tuple[Any, bool]] = field(default_factory=list)
    key_pos: Position = START
    value_pos: Position = START
    leftover: Any = None
    key_error: bool = False

    @property
    def field_path(self) -> str:
        """The steps as `services.cms.health.probes[0].interval`."""
        return format_path(self.steps)


def format_path(steps: Sequence[tuple[Any, bool]]) -> str:
    """Render `(key, is_index)` steps as a dotted path with `[i]` for list items."""
    out = ""
    for key, is_index in steps:
        if is_index:
            out += f"[{key}]"
        else:
            out += f".{key}" if out else str(key)
    return out


def _one_based(pos: Any) -> Position:
    line, column = pos
    return (int(line) + 1, int(column) + 1)


def _has_key(node: CommentedMap, key: Any) -> bool:
    try:
        return key in node
    except TypeError:  # an unhashable location part
        return False


def key_position(node: CommentedMap, key: Any, fallback: Position) -> Position:
    """Where `key` is written in mapping `node` (keys merged in by `<<` have no position of their own)."""
    try:
        return _one_based(node.lc.key(key))
    except (KeyError, TypeError, AttributeError):
        return fallback


def value_position(node: CommentedMap, key: Any, fallback: Position) -> Position:
    """Where the value of `key` starts; an empty (null) value has no position, so its key's is used."""
    if node.get(key) is None:
        return key_position(node, key, fallback)
    try:
        return _one_based(node.lc.value(key))
    except (KeyError, TypeError, AttributeError):
        return fallback


def item_position(node: CommentedSeq, index: int, fallback: Position) -> Position:
    """Where list item `index` starts."""
    try:
        return _one_based(node.lc.item(index))
    except (KeyError, IndexError, TypeError, AttributeError):
        return fallback


def walk(root: Any, loc: Sequence[Any]) -> Walk:
    """Follow `loc` into the tree, skipping parts that are not in the file (see `Walk`).

    A `"[key]"` part (pydantic's marker for an invalid mapping key) sets `key_error` instead of moving.
    """
    here = Walk(node=root)
    for i, part in enumerate(loc):
        node = here.node
        if part == "[key]":
            here.key_error = True
        elif isinstance(node, CommentedMap) and _has_key(node, part):
            here.key_pos = key_position(node, part, here.value_pos)
            here.value_pos = value_position(node, part, here.key_pos)
            here.node = node[part]
            here.steps.append((part, False))
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            here.key_pos = here.value_pos = item_position(node, part, here.value_pos)
            here.node = node[part]
            here.steps.append((part, True))
        elif i == len(loc) - 1:
            here.leftover = part
    return here


def describe(value: Any, *, hide: bool = False) -> str:
    """A short description of a value for a message: `'abc'`, `8080`, `true`, `a mapping`, `nothing`.

    With `hide`, scalars are described by kind only (for values that may be secrets).
    """
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean" if hide else str(value).lower()
    if isinstance(value, int | float):
        return "a number" if hide else repr(value)
    if isinstance(value, str):
        if hide:
            return "a string"
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, date):
        return "a date"
    return f"a {type(value).__name__}"


MAX_VALUES = 100_000
"""More values than this means aliases expanding without bound (a "billion laughs" file), not a platform."""
MAX_DEPTH = 64


class _Budget:
    """Counts the values and nesting `to_plain` walks, so alias bombs and alias cycles end in one line."""

    def __init__(self) -> None:
        self.values = 0

    def spend(self, file: str, where: Position, depth: int) -> None:
        self.values += 1
        if self.values > MAX_VALUES:
            raise ConfigError(
                f"the file expands to more than {MAX_VALUES:,} values (YAML aliases repeating without bound?)",
                **_at(file, where),
            )
        if depth > MAX_DEPTH:
            raise ConfigError(
                f"nested more than {MAX_DEPTH} levels deep (a YAML alias that contains itself?)",
                **_at(file, where),
            )


def to_plain(
    node: Any, file: str, where: Position = START, *, _budget: _Budget | None = None, _depth: int = 0
) -> Any:
    """Convert the ruamel tree to plain dict/list/str/int/float/bool/None (dates are left as dates).

    Raises ConfigError for what the platform file cannot hold: YAML tags on values, keys that are lists or
    mappings, and aliases that expand without bound or contain themselves.
    """
    budget = _budget if _budget is not None else _Budget()
    budget.spend(file, where, _depth)
    depth = _depth + 1
    if isinstance(node, dict):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            key_pos = key_position(node, key, where) if isinstance(node, CommentedMap) else where
            if isinstance(key, tuple | dict | list):
                raise ConfigError("a key must be a single value, not a list or mapping", **_at(file, key_pos))
            val_pos = value_position(node, key, key_pos) if isinstance(node, CommentedMap) else key_pos
            out[to_plain(key, file, key_pos, _budget=budget, _depth=depth)] = to_plain(
                value, file, val_pos, _budget=budget, _depth=depth
            )
        return out
    if isinstance(node, list):
        return [
            to_plain(
                item,
                file,
                item_position(node, i, where) if isinstance(node, CommentedSeq) else where,
                _budget=budget,
                _depth=depth,
            )
            for i, item in enumerate(node)
        ]
    if isinstance(node, TaggedScalar):
        raise ConfigError(f"YAML tags are not supported (found {str(node.tag)!r})", **_at(file, where))
    # ruamel's round-trip scalars are subclasses (ScalarInt, ScalarFloat, LiteralScalarString, ...) that keep
    # formatting; strict validation and equality checks want the plain types.
    if isinstance(node, ScalarBoolean | bool):
        return bool(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if node is None or isinstance(node, date):
        return node
    raise ConfigError(f"unsupported YAML value ({type(node).__name__})", **_at(file, where))


def _at(file: str, pos: Position) -> dict[str, Any]:
    return {"file": file, "line": pos[0], "column": pos[1]}
