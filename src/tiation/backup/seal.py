"""What makes a manifest tamper-evident: its self-checksum, and its seal inside the age envelope.

- The checksum (`manifest_sha256` in manifest.json) is the SHA-256 of the canonical JSON of every other field,
  and the file must be exactly the canonical rendering of what it parses to, so any change to any byte is
  found by `verify` without an identity. Whoever can write storage can recompute it, hence:
- the seal: each encrypted backup starts its compressed stream with a zstd *skippable frame* holding a fresh
  random 32-byte key (zstd decoders, including `zstd -d`, skip it; age encrypts it with the data). The manifest
  carries `seal` = HMAC-SHA256(key, canonical fields but the seal). Only an identity holder can read the key,
  so an edited manifest cannot be re-sealed without re-encrypting the whole object (and then the object's
  SHA-256 no longer matches the one the catalog recorded). Restores, `verify --restore` and drills check the
  seal before the first byte reaches the target.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

_MAGIC = (0x184D2A5E).to_bytes(4, "little")  # a zstd skippable frame (0x184D2A50..5F)
_TAG = b"tiation-seal-v1\x00"
KEY_BYTES = 32
HEADER_BYTES = 8 + len(_TAG) + KEY_BYTES


def canonical(fields: dict[str, Any]) -> bytes:
    """The canonical JSON of `fields`: sorted keys, no spaces, UTF-8."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def render(fields: dict[str, Any]) -> bytes:
    """How a manifest is stored: indented JSON in field order, UTF-8, one final newline."""
    return (json.dumps(fields, indent=2, ensure_ascii=False) + "\n").encode()


def checksum(fields: dict[str, Any]) -> str:
    """The self-checksum over `fields` (which must not include the checksum itself)."""
    return hashlib.sha256(canonical(fields)).hexdigest()


def new_key() -> bytes:
    """A fresh seal key for one backup."""
    return secrets.token_bytes(KEY_BYTES)


def header(key: bytes) -> bytes:
    """The skippable zstd frame that carries `key` at the start of the compressed stream."""
    payload = _TAG + key
    return _MAGIC + len(payload).to_bytes(4, "little") + payload


def split_header(data: bytes) -> tuple[bytes | None, bytes]:
    """(the seal key, the bytes after the frame), or (None, `data`) if `data` does not start with a seal."""
    payload_size = (HEADER_BYTES - 8).to_bytes(4, "little")
    if len(data) >= HEADER_BYTES and data[:8] == _MAGIC + payload_size and data[8:24] == _TAG:
        return data[24:HEADER_BYTES], data[HEADER_BYTES:]
    return None, data


def seal_of(fields: dict[str, Any], key: bytes) -> str:
    """HMAC-SHA256 of the canonical `fields` (without `seal` and the checksum) under the backup's seal key."""
    return hmac.new(key, canonical(fields), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a.encode(), b.encode())
