"""Find, read, parse and validate the platform file.

Every mistake becomes one ConfigError that names the file, line and column (1-based) and the dotted field
path, e.g. `tiation.yaml:14:11: services.cms.port: expected an integer, got 'abc'`. Secret references stay
references (SecretRef), never values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from tiation.config import backups
from tiation.config.checks import check_references
from tiation.config.errors_map import translate
from tiation.config.models import Platform, ServiceOverride, StateSettings
from tiation.config.platform_file import (
    DEFAULT_FILE,
    ENV_VAR,
    LoadedPlatform,
    find_platform_file,
    read_platform_bytes,
)
from tiation.config.positions import describe, to_plain
from tiation.errors import ConfigError
from tiation.secrets import SecretRef

__all__ = [
    "DEFAULT_FILE",
    "ENV_VAR",
    "LoadedPlatform",
    "find_platform_file",
    "load_platform",
    "load_platform_bytes",
    "parse_yaml",
    "with_secret_base",
]


def load_platform(path: Path) -> LoadedPlatform:
    """Read and validate the platform file at `path`. Raises ConfigError (one line) for every mistake."""
    return load_platform_bytes(path, read_platform_bytes(path))


def load_platform_bytes(path: Path, raw: bytes) -> LoadedPlatform:
    """Validate `raw`, the content of the platform file at `path` (errors and secret paths name `path`)."""
    file = str(path)
    tree = parse_yaml(_decode(raw, file), file)
    if tree is None:
        raise ConfigError("the platform file is empty", file=file, line=1, column=1)
    if not isinstance(tree, dict):
        got = describe(to_plain(tree, file))
        raise ConfigError(f"the top level must be a mapping of keys, got {got}", file=file, line=1, column=1)
    data = to_plain(tree, file)
    try:
        platform = Platform.model_validate(data)
    except ValidationError as exc:
        raise translate(exc, tree, file) from None
    check_references(platform, tree, file)
    root = path.resolve().parent
    return LoadedPlatform(path=path, platform=with_secret_base(platform, root))


def _decode(raw: bytes, file: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        message = f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot be decoded)"
        raise ConfigError(message, file=file, line=line, column=column) from None


def parse_yaml(text: str, file: str) -> Any:
    """Parse `text` with the round-trip loader (positions kept). Raises ConfigError for bad YAML."""
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        raise _yaml_error(exc, file) from None
    except YAMLError as exc:  # ReaderError (a character YAML does not allow) and the like
        raise _reader_error(exc, text, file) from None


def _yaml_error(exc: MarkedYAMLError, file: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    problem = _one_line(exc.problem or exc.context or "invalid YAML")
    if problem.startswith("found duplicate key"):
        # ruamel's text quotes both values, which may be secrets: keep only the key.
        key = problem.split('"')[1] if problem.count('"') >= 2 else "?"
        problem = f"duplicate key {key!r}"
        if exc.context_mark is not None:
            problem += f" (already in the mapping that starts at line {exc.context_mark.line + 1})"
    elif exc.context and exc.context_mark is not None and exc.problem:
        at = f"{exc.context_mark.line + 1}:{exc.context_mark.column + 1}"
        problem += f" ({_one_line(exc.context)} that starts at {at})"
    if mark is None:
        return ConfigError(f"invalid YAML: {problem}", file=file)
    return ConfigError(f"invalid YAML: {problem}", file=file, line=mark.line + 1, column=mark.column + 1)


def _reader_error(exc: YAMLError, text: str, file: str) -> ConfigError:
    position = getattr(exc, "position", None)
    character = getattr(exc, "character", None)
    if isinstance(position, int) and isinstance(character, int | str):
        code = ord(character) if isinstance(character, str) else character
        before = text[:position]
        line = before.count("\n") + 1
        column = position - (before.rfind("\n") + 1) + 1
        message = f"invalid YAML: character #x{code:04x} is not allowed"
        return ConfigError(message, file=file, line=line, column=column)
    return ConfigError(f"invalid YAML: {_one_line(str(exc))}", file=file)


def _one_line(text: str) -> str:
    return " ".join(text.replace("\t", "\\t").split())


def with_secret_base(platform: Platform, base: Path) -> Platform:
    """A copy of `platform` whose secret references resolve `file:` paths relative to `base`."""

    def rebase_env(env: Mapping[str, str | SecretRef]) -> dict[str, str | SecretRef]:
        return {k: SecretRef(v.ref, base=base) if isinstance(v, SecretRef) else v for k, v in env.items()}

    def rebase_override(override: ServiceOverride) -> ServiceOverride:
        return override.model_copy(update={"env": rebase_env(override.env)})

    services = {n: s.model_copy(update={"env": rebase_env(s.env)}) for n, s in platform.services.items()}
    environments = {
        n: e.model_copy(update={"services": {k: rebase_override(o) for k, o in e.services.items()}})
        for n, e in platform.environments.items()
    }
    state: StateSettings = platform.state
    if isinstance(state.url, SecretRef):
        state = state.model_copy(update={"url": SecretRef(state.url.ref, base=base)})
    storage = {n: backups.with_secret_base(s, base) for n, s in platform.storage.items()}
    backup = {n: backups.with_secret_base(b, base) for n, b in platform.backups.items()}
    update = {"services": services, "environments": environments, "state": state}
    return platform.model_copy(update={**update, "storage": storage, "backups": backup})
