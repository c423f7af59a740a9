"""What the local target writes for a new instance: its spec (command, env references) and config files."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from tiation.errors import TargetError
from tiation.secrets import SecretRef
from tiation.targets.base import Release
from tiation.targets.proxied.instances import InstanceFiles

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def safe_name(value: str, what: str) -> str:
    """`value` if it can name a directory; else TargetError."""
    if not _NAME.match(value):
        raise TargetError(f"{what} {value!r} cannot name a directory (letters, digits, '.', '_', '-')")
    return value


def fill(arg: str, *, port: int, host: str, config_dir: Path) -> str:
    """Substitute `{port}`, `{host}` and `{config_dir}` in one command argument."""
    # Plain replacement, not str.format: commands may hold other braces (JSON, shell-like syntax).
    return arg.replace("{port}", str(port)).replace("{host}", host).replace("{config_dir}", str(config_dir))


def spec_env(env: Mapping[str, str | SecretRef]) -> dict[str, Any]:
    """The release env as the spec stores it: secret references stay references, never values."""
    out: dict[str, Any] = {}
    for key, value in env.items():
        if isinstance(value, SecretRef):
            out[key] = {"secret": value.ref, "base": str(value.base) if value.base is not None else None}
        else:
            out[key] = str(value)
    return out


def config_paths(config: Mapping[str, str]) -> dict[PurePosixPath, str]:
    """The release's config files by relative path; TargetError for a name that would leave the directory."""
    out = {}
    for name, content in config.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or not rel.parts or ".." in rel.parts:
            raise TargetError(f"config file name {name!r} must be a relative path inside the instance")
        out[rel] = content
    return out


def write_config(files: InstanceFiles, config: Mapping[PurePosixPath, str]) -> None:
    """Write the config files into the instance's config directory (created even when there are none)."""
    files.config_dir.mkdir(parents=True, exist_ok=True)
    for rel, content in config.items():
        path = files.config_dir.joinpath(*rel.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def build_spec(
    release: Release, files: InstanceFiles, *, host: str, port: int, created_at: str
) -> dict[str, Any]:
    """The spec the supervisor runs from."""
    command = [fill(a, port=port, host=host, config_dir=files.config_dir) for a in release.command]
    return {
        "instance_id": files.id,
        "environment": release.environment,
        "service": release.service,
        "version": release.version,
        "digest": release.digest,
        "created_at": created_at,
        "host": host,
        "port": port,
        "public_port": release.port,
        "command": command,
        "cwd": str(Path(release.cwd).resolve()) if release.cwd else str(Path.cwd()),
        "env": spec_env(release.env),
        "stop_timeout": release.stop_timeout,
        "log": str(files.log),
    }
