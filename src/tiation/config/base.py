"""Building blocks shared by every section of the platform file: the strict base model, names, secrets."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, GetPydanticSchema, PlainSerializer, WrapValidator
from pydantic_core import core_schema

from tiation.secrets import SecretRef

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


def matching(pattern: re.Pattern[str], value: str, expected: str) -> str:
    """`value` if `pattern` matches it, else a ValueError `expected <expected>, got '<value>'`."""
    if not pattern.match(value):
        raise ValueError(f"expected {expected}, got {value!r}")
    return value


def _secret_or_plain(value: Any, handler: Any) -> str | SecretRef:
    if isinstance(value, SecretRef):
        return value
    text = handler(value)
    assert isinstance(text, str)
    return SecretRef(text) if SecretRef.is_ref(text) else text


def _secret_only(value: Any, handler: Any) -> SecretRef:
    if isinstance(value, SecretRef):
        return value
    text = handler(value)
    if not SecretRef.is_ref(text):
        raise ValueError("expected a secret reference 'env:NAME' or 'file:PATH' (never a literal secret)")
    return SecretRef(text)


def _ser_env(value: str | SecretRef) -> str:
    return value.ref if isinstance(value, SecretRef) else value


EnvValue = Annotated[str, WrapValidator(_secret_or_plain), PlainSerializer(_ser_env, return_type=str)]
"""An environment value: a plain string, or `env:NAME` / `file:PATH`, which becomes a SecretRef."""
Secret = Annotated[str, WrapValidator(_secret_only), PlainSerializer(_ser_env, return_type=str)]
"""A value that must be a secret reference."""
SecretValue = Annotated[
    SecretRef,
    GetPydanticSchema(
        lambda _type, _handler: core_schema.no_info_wrap_validator_function(
            _secret_only,
            core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(_ser_env),
        )
    ),
]
"""`Secret`, typed as what it holds once loaded: a SecretRef."""


class Strict(BaseModel):
    """Base for every platform-file model: unknown keys are errors, values are not coerced loosely."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, arbitrary_types_allowed=True, defer_build=True
    )
