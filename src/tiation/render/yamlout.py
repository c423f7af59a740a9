"""A small, deterministic YAML writer for the files tiation renders.

Mappings keep the order the caller built (callers sort what has no natural order); strings are written plain only
when every YAML 1.1 and 1.2 reader takes them as the same string (Prometheus and Alertmanager use Go's yaml
packages, which follow YAML 1.1: `on`, `yes`, `1e3` would not stay strings), else double-quoted JSON-style.
Multi-line strings (PromQL) become literal blocks. Same data in, same bytes out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_ .\-/<>=!()+*]*$")
_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
_KEYWORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
"""Characters YAML does not allow raw, or that YAML 1.1 reads as line breaks: written as `\\uXXXX`."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")


def dump(data: Mapping[str, Any], *, header: str = "") -> str:
    """`data` as a YAML document; `header` (one or more lines) goes first as `#` comments."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines.extend(_mapping(data, 0))
    return "\n".join(lines) + "\n"


def scalar(value: Any) -> str:
    """One scalar as YAML (on one line)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _string(text: str) -> str:
    if _DURATION.fullmatch(text):
        return text
    if (
        _PLAIN.fullmatch(text)
        and not text.endswith(" ")
        and "  " not in text
        and text.lower() not in _KEYWORDS
    ):
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def _block(text: str, indent: int) -> list[str] | None:
    """A literal block (`|-`) for a multi-line string, or None when one cannot hold it exactly."""
    if "\n" not in text or text != text.strip() or _CONTROL.search(text) or _UNSAFE.search(text):
        return None
    lines = text.split("\n")
    if any(line != line.rstrip() for line in lines):
        return None
    pad = " " * indent
    return ["|-", *[f"{pad}{line}" if line else "" for line in lines]]


def _mapping(data: Mapping[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    for key, value in data.items():
        head = f"{pad}{_string(str(key))}:"
        out.extend(_entry(head, value, indent))
    return out


def _entry(head: str, value: Any, indent: int) -> list[str]:
    if isinstance(value, Mapping):
        return [f"{head} {{}}"] if not value else [head, *_mapping(value, indent + 2)]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [f"{head} []"] if not value else [head, *_sequence(value, indent + 2)]
    if isinstance(value, str):
        block = _block(value, indent + 2)
        if block is not None:
            return [f"{head} {block[0]}", *block[1:]]
    return [f"{head} {scalar(value)}"]


def _sequence(items: Sequence[Any], indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    for item in items:
        if isinstance(item, Mapping) and item:
            inner = _mapping(item, indent + 2)
            out.append(f"{pad}- {inner[0].lstrip()}")
            out.extend(inner[1:])
        else:
            out.extend(_entry(f"{pad}-", item, indent))
    return out
