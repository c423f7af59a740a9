"""Secret references: `env:NAME` and `file:PATH`, resolved lazily, never printed.

A `SecretRef` is what the platform file and every stored record hold; the value exists only inside `reveal()`'s
caller, and is registered with `tiation.redact` so that no output path can show it.
"""

from __future__ import annotations

import os
from pathlib import Path

from tiation.errors import ConfigError
from tiation.redact import MASK, register_secret

_SCHEMES = ("env", "file")


class SecretRef:
    """A reference to a secret value; `str()` and `repr()` never show the value."""

    __slots__ = ("_base", "ref")

    def __init__(self, ref: str, *, base: Path | None = None) -> None:
        scheme, sep, name = ref.partition(":")
        if not sep or scheme not in _SCHEMES or not name:
            raise ValueError(f"a secret reference is 'env:NAME' or 'file:PATH', got {ref!r}")
        self.ref = ref
        self._base = base

    @staticmethod
    def is_ref(value: str) -> bool:
        """Whether `value` is written as a secret reference."""
        scheme, sep, name = value.partition(":")
        return bool(sep) and scheme in _SCHEMES and bool(name) and not name.startswith("//")

    @property
    def base(self) -> Path | None:
        """The directory a relative `file:` path is resolved against (the platform file's)."""
        return self._base

    @property
    def scheme(self) -> str:
        return self.ref.partition(":")[0]

    @property
    def name(self) -> str:
        return self.ref.partition(":")[2]

    def reveal(self) -> str:
        """Resolve the value now (and register it for redaction). Raises ConfigError if it is missing."""
        if self.scheme == "env":
            value = os.environ.get(self.name)
            if value is None:
                raise ConfigError(f"secret {self.ref} is not set in the environment")
        else:
            path = Path(self.name)
            if not path.is_absolute() and self._base is not None:
                path = self._base / path
            try:
                value = path.read_text(encoding="utf-8").rstrip("\n")
            except OSError as exc:
                raise ConfigError(
                    f"secret {self.ref} cannot be read: {exc.strerror}", field=self.ref
                ) from None
        register_secret(value)
        return value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"SecretRef({self.ref!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretRef) and other.ref == self.ref

    def __hash__(self) -> int:
        return hash(("SecretRef", self.ref))
