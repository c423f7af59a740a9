"""POST a JSON body and turn what happened into `Sent | RetryLater | Failed` (shared by the HTTP notifiers).

`classify_response` is pure (status, headers, body, now → result); `HttpSender.post` only gathers its inputs.
Redirects are followed only when they keep the method and stay on the same scheme, host and port (307/308,
at most 3); the URL is never part of a reason, and httpx's own request log is redacted (it names the URL).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Protocol, TypeVar
from urllib.parse import quote

from tiation import __version__
from tiation.alerting.notifiers.base import (
    DEFAULT_RETRY,
    MAX_RETRY_AFTER,
    RATE_LIMIT_RETRY,
    ConfiguredNotifier,
    Failed,
    Notification,
    RetryLater,
    Secrets,
    SendResult,
    Sent,
    config_failure,
    logged,
)
from tiation.clock import Clock
from tiation.config.durations import format_duration
from tiation.errors import TiationError
from tiation.redact import redact
from tiation.secrets import SecretRef

if TYPE_CHECKING:
    import httpx

MAX_BODY = 4096
"""Bytes of a response body read at most (only a snippet of it ever reaches a reason)."""
MAX_REDIRECTS = 3
USER_AGENT = f"tiation/{__version__}"
_SNIPPET = 120


class _RedactRecords(logging.Filter):
    """Masks secrets in the records of the HTTP libraries (httpx logs every request's full URL at INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _install_log_redaction() -> None:
    for name in ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactRecords) for f in logger.filters):
            logger.addFilter(_RedactRecords())


_install_log_redaction()


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header (seconds, or an HTTP date) as a delay from `now`, capped; None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        delay = timedelta(seconds=int(text[:9]))
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        delay = max(when - now, timedelta(0))
    return min(delay, MAX_RETRY_AFTER)


def snippet(body: bytes) -> str:
    """The start of a response body as one short line (for a reason; still to be scrubbed)."""
    text = " ".join(body[: _SNIPPET * 4].decode("utf-8", errors="replace").split())
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"


def classify_response(
    status: int, headers: Mapping[str, str], body: bytes, now: datetime, secrets: Secrets
) -> SendResult:
    """What an HTTP answer means for the message: 2xx sent; 408, 429, 5xx retry; other statuses fail."""
    detail = snippet(body)
    said = f": {detail}" if detail else ""
    if 200 <= status < 300:
        return Sent(f"HTTP {status}")
    after = retry_after(headers.get("retry-after"), now)
    if status == 429:
        delay = RATE_LIMIT_RETRY if after is None else after
        return RetryLater(delay, secrets.reason(f"HTTP 429 (rate limited){said}"))
    if status == 408 or status >= 500:
        delay = DEFAULT_RETRY if after is None else after
        return RetryLater(delay, secrets.reason(f"HTTP {status} from the receiver{said}"))
    if 300 <= status < 400:
        return Failed(f"HTTP {status}: the receiver redirects elsewhere (not followed; fix the URL)")
    return Failed(secrets.reason(f"HTTP {status} from the receiver{said}"))


def _os_cause(exc: BaseException) -> str | None:
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__ or cause.__context__
    return None


def classify_error(exc: Exception, timeout: timedelta) -> SendResult:
    """What a failed request means: network trouble retries, a request that cannot be formed fails.

    Reasons are fixed phrases (plus an OS error text): an exception's own text may quote the URL.
    """
    import httpx

    limit = format_duration(timeout)
    if isinstance(exc, httpx.ConnectTimeout):
        return RetryLater(DEFAULT_RETRY, f"connecting timed out after {limit}")
    if isinstance(exc, httpx.WriteTimeout):
        return RetryLater(DEFAULT_RETRY, f"sending timed out after {limit}")
    if isinstance(exc, httpx.TimeoutException):
        return RetryLater(DEFAULT_RETRY, f"no response within {limit}")
    if isinstance(exc, httpx.ProxyError):
        return RetryLater(DEFAULT_RETRY, "the proxy refused or failed the request")
    if isinstance(exc, httpx.ConnectError):
        return RetryLater(DEFAULT_RETRY, f"cannot connect: {_os_cause(exc) or 'connection failed'}")
    if isinstance(exc, httpx.LocalProtocolError | httpx.UnsupportedProtocol | httpx.InvalidURL | ValueError):
        return Failed("the request cannot be made: the URL or a header value is invalid")
    if isinstance(exc, httpx.TransportError):
        return RetryLater(DEFAULT_RETRY, "the connection broke before a complete answer")
    return RetryLater(DEFAULT_RETRY, f"request failed ({type(exc).__name__})")


class HttpSender:
    """One httpx client (pooled connections) with explicit timeouts, no proxy from the environment."""

    def __init__(self, *, timeout: timedelta, clock: Clock, proxy: str | SecretRef | None = None) -> None:
        self.timeout = timeout
        self.clock = clock
        self._proxy = proxy
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _open(self, secrets: Secrets) -> httpx.Client:
        with self._lock:
            return self._client or self._create(secrets)

    def _create(self, secrets: Secrets) -> httpx.Client:
        import httpx

        proxy = secrets.reveal(self._proxy) if self._proxy is not None else None
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout.total_seconds()),
            follow_redirects=False,
            trust_env=False,
            proxy=proxy,
            headers={"User-Agent": USER_AGENT},
        )
        return self._client

    def post(self, url: str, body: bytes, headers: Mapping[str, str], secrets: Secrets) -> SendResult:
        """POST `body` to `url`; never raises for delivery problems."""
        import httpx

        try:
            client = self._open(secrets)
            target = httpx.URL(url)
            for _ in range(MAX_REDIRECTS + 1):
                request = client.build_request("POST", target, content=body, headers=dict(headers))
                response = client.send(request, stream=True)
                try:
                    status, answer_headers = response.status_code, response.headers
                    data = _read_some(response)
                finally:
                    response.close()
                location = answer_headers.get("location")
                if status in (307, 308) and location:
                    following = target.join(location)
                    if (following.scheme, following.host, following.port) == (
                        target.scheme,
                        target.host,
                        target.port,
                    ):
                        target = following
                        continue
                break
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            return classify_error(exc, self.timeout)
        return classify_response(status, answer_headers, data, self.clock.now(), secrets)

    def close(self) -> None:
        """Close pooled connections (a later send opens new ones)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def _read_some(response: httpx.Response) -> bytes:
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= MAX_BODY:
            break
    return data[:MAX_BODY]


Request = tuple[str, bytes, Mapping[str, str]]
"""URL, body and headers of one POST."""


class HttpSettings(Protocol):
    """What the HTTP notifiers' settings have in common."""

    @property
    def timeout(self) -> timedelta:
        """Bound on each network step of one send."""
        ...

    @property
    def proxy(self) -> str | SecretRef | None:
        """An HTTP(S) proxy URL, or None."""
        ...


HttpSettingsT = TypeVar("HttpSettingsT", bound=HttpSettings)


class HttpNotifier(ConfiguredNotifier[HttpSettingsT]):
    """Shared `send` of the HTTP notifiers: build the request (pure but for secrets), post it, log the outcome."""

    kind = "http"

    def __init__(self, name: str, settings: HttpSettingsT, *, clock: Clock) -> None:
        super().__init__(name, settings, clock=clock)
        self.sender = HttpSender(timeout=settings.timeout, clock=clock, proxy=settings.proxy)

    def request(self, notification: Notification, secrets: Secrets) -> Request | Failed:
        """The POST to make for `notification`, or why it cannot be sent."""
        raise NotImplementedError

    def send(self, notification: Notification) -> SendResult:
        """Deliver `notification`; never raises for delivery problems."""
        secrets = Secrets()
        try:
            made = self.request(notification, secrets)
            if isinstance(made, Failed):
                result: SendResult = Failed(secrets.reason(made.reason))
            else:
                result = self.sender.post(*made, secrets)
        except TiationError as err:  # a secret that cannot be read
            result = config_failure(err, secrets)
        return logged(self.name, self.kind, notification, result)

    def close(self) -> None:
        """Close pooled connections."""
        self.sender.close()


def json_body(document: object) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def header_value(text: str) -> str:
    """`text` as written when it is printable ASCII, else percent-encoded (UTF-8) so that it fits a header."""
    if all(" " <= ch <= "~" for ch in text):
        return text
    return quote(text, safe=" !#$&'()*+,/:;=?@[]^_`{|}~-.")
