"""Small helpers for the words in human output."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 service`, `2 services` (`many` for irregular plurals: plural(2, "person", "people"))."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
