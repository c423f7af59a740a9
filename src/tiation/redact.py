"""Secret redaction for everything tiation prints, logs, audits or bundles.

Two mechanisms:
- values: every secret that tiation resolves is registered here, and `redact()` replaces each occurrence;
- shapes: credentials inside DSNs/URLs (`scheme://user:PASSWORD@host`) and `password=...`-style pairs are masked
  even if they were never registered.
The registry is process-wide on purpose: a secret must be hidden from every output path, including ones (like a
log handler or an unexpected traceback) that have no object to pass it through.
"""

from __future__ import annotations

import re
import threading

MASK = "<secret>"
_MIN_LEN = 4  # shorter values would mask ordinary words

_URL_CREDS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")
_PAIR = re.compile(
    r"(?i)(?P<key>\b(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)\b\s*[=:]\s*)"
    r"(?P<q>['\"]?)(?P<val>[^\s'\"&,;]+)(?P=q)"
)


class SecretRegistry:
    """A set of secret values to mask wherever they appear."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        """Register a secret value (and its stripped form) for masking."""
        candidates = {value, value.strip()}
        with self._lock:
            added = False
            for v in candidates:
                if len(v) >= _MIN_LEN and v not in self._values:
                    self._values.add(v)
                    added = True
            if added:
                self._pattern = None

    def clear(self) -> None:
        """Forget every registered value (tests only)."""
        with self._lock:
            self._values.clear()
            self._pattern = None

    def redact(self, text: str) -> str:
        """Return `text` with every registered value and credential shape masked."""
        with self._lock:
            if self._pattern is None and self._values:
                alts = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in alts))
            pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        text = _URL_CREDS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
        return _PAIR.sub(lambda m: f"{m['key']}{m['q']}{MASK}{m['q']}", text)


SECRETS = SecretRegistry()


def register_secret(value: str) -> None:
    """Register a resolved secret value so that no output path can show it."""
    SECRETS.add(value)


def redact(text: str) -> str:
    """Mask registered secrets and credential shapes in `text`."""
    return SECRETS.redact(text)
