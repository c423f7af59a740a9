"""Row mapping in one place: a database row -> a frozen dataclass, field by field, by column name.

`RowMapper(SomeRow)` reads each field's type once and picks a converter for it: timestamps come back
timezone-aware in UTC (`utc`; SQLite's stdlib driver hands back text), `bool`/`int`/`float` are coerced (SQLite
stores 0/1), `dict` fields are stored JSON documents (`load_json`), everything else is passed through. A field
whose column has another name, or that needs its own converter, says so once. It works on SQLAlchemy rows and
on `sqlite3.Row` alike (anything readable by column name), and imports no SQLAlchemy, so the `status` fast path
(`state/quick.py`) uses it too.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
Convert = Callable[[Any], Any]


class Columns(Protocol):
    """A database row read by column name (SQLAlchemy's RowMapping, sqlite3.Row)."""

    def __getitem__(self, key: str, /) -> Any: ...


def load_json(text: str | None) -> dict[str, Any]:
    """A stored JSON document back as a dict (`{}` for nothing)."""
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {"value": value}


def utc(value: Any) -> datetime:
    """A stored timestamp as a timezone-aware UTC datetime (SQLite hands back naive values or text)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_BY_TYPE: dict[Any, Convert] = {datetime: utc, bool: bool, int: int, float: float, dict: load_json}


def _optional(convert: Convert) -> Convert:
    def maybe(value: Any) -> Any:
        return None if value is None else convert(value)

    return maybe


def converter_for(hint: Any) -> Convert | None:
    """The converter for a field annotated `hint` (None: the column's value is used as it is)."""
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        inner = [a for a in args if a is not type(None)]
        found = converter_for(inner[0]) if len(inner) == 1 else None
        return None if found is None else _optional(found)
    return _BY_TYPE.get(typing.get_origin(hint) or hint)


class RowMapper(Generic[T]):
    """Builds a frozen dataclass `cls` from a row, one field per column of the same name.

    `columns` renames (field -> column), `convert` overrides a field's converter, and fields named in `given`
    are not read from the row: the caller passes them (`mapper(row, expired=...)`).
    """

    def __init__(
        self,
        cls: type[T],
        *,
        columns: Mapping[str, str] | None = None,
        convert: Mapping[str, Convert] | None = None,
        given: Collection[str] = (),
    ) -> None:
        hints = typing.get_type_hints(cls)
        renamed, custom = columns or {}, convert or {}
        self.cls = cls
        self.plan: tuple[tuple[str, str, Convert | None], ...] = tuple(
            (f.name, renamed.get(f.name, f.name), custom.get(f.name, converter_for(hints[f.name])))
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.name not in given
        )

    def __call__(self, row: Any, /, **given: Any) -> T:
        """The dataclass for `row` (a SQLAlchemy `Row`, its `_mapping`, or a `sqlite3.Row`)."""
        m: Columns = getattr(row, "_mapping", row)
        values = {name: m[col] if conv is None else conv(m[col]) for name, col, conv in self.plan}
        return self.cls(**values, **given)
