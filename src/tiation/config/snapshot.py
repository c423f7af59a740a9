"""A validated snapshot of the platform file, cached beside the state so that commands skip parse + validate.

Parsing the file (ruamel, round-trip) and validating it (pydantic: building the models' schemas, then the
cross-reference checks) is most of what a quick command such as `tiation status` spends. The outcome is a pure
function of the file's bytes, its resolved path (secret `file:` paths are relative to it) and the code that
validates it, so a validated `Platform` is pickled under a key made of exactly those:

- the SHA-256 of the file's content (not its size or mtime: an edit that keeps both still changes the key),
- the file's resolved path (two platform files in one directory never share a snapshot),
- the tiation version, a digest of the `tiation.config` sources and `tiation.secrets`, the pydantic and Python
  versions (a snapshot written by other code is never read).

The cache file starts with its key; a snapshot is unpickled only when the key matches the file read now, and
only from the classes a platform holds (`tiation.config.*`, `SecretRef`, dates, paths). Anything else — a
missing, truncated, corrupt or foreign cache file — is ignored and rebuilt. A file with mistakes is never
cached, so every command reports them exactly as `load_platform` does. Snapshots hold secret *references*
(`SecretRef`), never values: nothing is resolved while loading.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import struct
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tiation
from tiation.config.platform_file import LoadedPlatform, read_platform_bytes

if TYPE_CHECKING:
    from tiation.config.models import PlatformCore
    from tiation.config.platform import Platform

CACHE_DIR = Path(".tiation") / "cache"
"""Where snapshots live, relative to the platform file's directory (beside the default state store)."""
_FORMAT = b"tiation-platform-snapshot/2"
_LENGTH = struct.Struct(">Q")  # the length of the core's pickle, which comes first
_ALLOWED = {
    "builtins": frozenset(
        {"set", "frozenset", "list", "dict", "tuple", "int", "float", "str", "bool", "bytes"}
    ),
    "datetime": frozenset({"date", "datetime", "time", "timedelta", "timezone"}),
    "pathlib": frozenset({"Path", "PosixPath", "PurePosixPath", "WindowsPath", "PureWindowsPath"}),
}
"""Beyond the classes of `tiation.config` and `tiation.secrets`: the values a validated platform holds."""


def load_platform_cached(path: Path) -> LoadedPlatform:
    """Like `load_platform(path)` (same result, same errors), answered from a snapshot when one is valid.

    From a snapshot, the deploy core is unpickled now and the rest of the platform on first use.
    """
    raw = read_platform_bytes(path)
    key = snapshot_key(path, raw)
    cache = snapshot_path(path)
    found = read_snapshot(cache, key)
    if found is not None:
        core, rest = found

        def load() -> Platform:
            platform = _unpickle_platform(rest)
            if platform is None:  # a damaged snapshot: parse after all, and store a good one
                from tiation.config.loader import load_platform_bytes

                platform = load_platform_bytes(path, raw).platform
                write_snapshot(cache, key, platform)
            return platform

        return LoadedPlatform(path, core=core, load=load)
    from tiation.config.loader import load_platform_bytes

    loaded = load_platform_bytes(path, raw)  # the bytes hashed above: a snapshot never holds other content
    write_snapshot(cache, key, loaded.platform)
    return loaded


def snapshot_path(path: Path) -> Path:
    """The cache file for the platform file at `path` (one per resolved path)."""
    resolved = path.resolve()
    name = hashlib.sha256(str(resolved).encode()).hexdigest()[:24]
    return resolved.parent / CACHE_DIR / f"platform-{name}.pickle"


def snapshot_key(path: Path, raw: bytes) -> bytes:
    """The key a snapshot of `raw` (the file at `path`) is valid under, as hex bytes."""
    from pydantic.version import VERSION

    digest = hashlib.sha256(_FORMAT)
    for part in (
        tiation.__version__,
        VERSION,
        sys.implementation.cache_tag,
        _code_digest(),
        str(path.resolve()),
    ):
        digest.update(part.encode() + b"\0")
    digest.update(hashlib.sha256(raw).digest())
    return digest.hexdigest().encode()


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """A digest of the code that validates a platform file and defines what a snapshot holds."""
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for source in [*sorted(package.glob("*.py")), package.parent / "secrets.py"]:
        digest.update(source.name.encode() + b"\0")
        try:
            digest.update(source.read_bytes())
        except OSError:
            digest.update(b"?")
    return digest.hexdigest()


def read_snapshot(cache: Path, key: bytes) -> tuple[PlatformCore, bytes] | None:
    """The deploy core stored in `cache` under `key` and the pickled rest, or None (missing, other key,
    unreadable: never raises)."""
    try:
        data = cache.read_bytes()
    except OSError:
        return None
    stored, newline, body = data.partition(b"\n")
    if not newline or stored != key or len(body) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack_from(body)
    core_end = _LENGTH.size + size
    try:
        core = _Unpickler(io.BytesIO(body[_LENGTH.size : core_end])).load()
    except Exception:  # a corrupt snapshot is only a cache miss
        return None
    from tiation.config.models import PlatformCore

    if not isinstance(core, PlatformCore) or core_end >= len(body):
        return None
    return core, body[core_end:]


def _unpickle_platform(data: bytes) -> Platform | None:
    try:
        platform = _Unpickler(io.BytesIO(data)).load()
    except Exception:
        return None
    from tiation.config.platform import Platform

    return platform if isinstance(platform, Platform) else None


def write_snapshot(cache: Path, key: bytes, platform: Platform) -> None:
    """Store `platform` (its core apart) under `key` in `cache` atomically; a cache that cannot be written is
    skipped."""
    import tempfile  # only when writing: a command answered from the snapshot does not need it

    from tiation.config.models import PlatformCore

    try:
        fields = {name: getattr(platform, name) for name in PlatformCore.model_fields}
        core = PlatformCore.model_construct(_fields_set=platform.model_fields_set & set(fields), **fields)
        core_body = pickle.dumps(core, protocol=pickle.HIGHEST_PROTOCOL)
        rest = pickle.dumps(platform, protocol=pickle.HIGHEST_PROTOCOL)
        cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=".platform-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(key + b"\n" + _LENGTH.pack(len(core_body)) + core_body + rest)
            Path(tmp).replace(cache)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        return


class _Unpickler(pickle.Unpickler):
    """Loads only the classes a platform snapshot is made of."""

    def find_class(self, module: str, name: str) -> Any:
        ours = module == "tiation.secrets" or module.startswith("tiation.config.")
        if name in _ALLOWED.get(module, ()) or (ours and "." not in name):
            found = super().find_class(module, name)
            if isinstance(found, type):  # a class, never a function or a method
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a platform snapshot")
