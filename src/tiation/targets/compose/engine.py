"""Talking to the Docker engine: its HTTP API over the unix socket (or plain tcp), with httpx.

Containers are created, started, stopped, removed, inspected, listed, and their logs and recorded events read,
all through the Engine API; no client binary is run. Every failure becomes a one-line TargetError that names
the engine's address. Secret values never appear in one: they travel only in a create request's Env, and an
error the engine answers with (which may echo that request) is redacted, and scrubbed of the values the caller
says the request carried.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from tiation.errors import TargetError
from tiation.redact import MASK, redact

if TYPE_CHECKING:
    import httpx

DEFAULT_HOST = "unix:///var/run/docker.sock"
API_TIMEOUT = 10.0


def engine_address(docker_host: str | None) -> str:
    """The engine's address: the setting, else $DOCKER_HOST, else the system socket."""
    return docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def scrub(text: str, values: Iterable[str]) -> str:
    """`text` redacted, and with each of `values` masked even if it was never registered (or is short)."""
    for value in sorted((v for v in values if v), key=len, reverse=True):
        text = text.replace(value, MASK)
    return redact(text)


class DockerEngine:
    """A small client of the engine's HTTP API (unix:// or plain tcp:// addresses)."""

    def __init__(self, address: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self.address = address
        self._transport = transport  # tests: an httpx.MockTransport instead of the socket
        self._client: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            import httpx

            parts = urlsplit(self.address)
            if self._transport is not None:
                self._client = httpx.Client(
                    transport=self._transport, base_url="http://docker", timeout=API_TIMEOUT
                )
            elif parts.scheme == "unix":
                self._probe_socket(parts.path)
                transport = httpx.HTTPTransport(uds=parts.path)
                self._client = httpx.Client(
                    transport=transport, base_url="http://docker", timeout=API_TIMEOUT
                )
            elif parts.scheme in ("tcp", "http"):
                self._client = httpx.Client(base_url=f"http://{parts.netloc}", timeout=API_TIMEOUT)
            else:
                raise TargetError(
                    f"unsupported Docker engine address {self.address!r} (use unix:///path or tcp://host:port)"
                )
        return self._client

    def _probe_socket(self, path: str) -> None:
        """Connect once by hand: httpx leaks the socket of a failed unix connect, so fail here cleanly."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(API_TIMEOUT)
            try:
                sock.connect(path)
            except OSError as exc:
                raise self._unreachable(exc) from None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _unreachable(self, exc: Exception) -> TargetError:
        reason = str(exc) or type(exc).__name__
        if "No such file" in reason:
            reason = "no such socket (is dockerd running?)"
        elif "Connection refused" in reason:
            reason = "connection refused (is dockerd running?)"
        elif "Permission denied" in reason:
            reason = "permission denied on the socket"
        return TargetError(f"cannot reach the Docker engine at {self.address}: {reason}")

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API call; TargetError (naming the engine) if the engine cannot be reached."""
        import httpx

        try:
            return self._http().request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None

    def _api_error(self, response: httpx.Response, what: str, hidden: Iterable[str] = ()) -> TargetError:
        try:
            data = response.json()
            message = str(data.get("message", "")) if isinstance(data, dict) else ""
        except ValueError:
            message = response.text.strip()
        message = " ".join((message or str(response.status_code)).split())[:300]
        return TargetError(f"Docker engine at {self.address}: {what}: {scrub(message, hidden)}")

    def ping(self) -> None:
        """TargetError unless the engine answers `/_ping`."""
        response = self.request("GET", "/_ping")
        if response.status_code != 200:
            raise self._api_error(response, "ping failed")

    def image_exists(self, image: str) -> bool:
        """Whether `image` is present on the engine (no registry is asked)."""
        response = self.request("GET", f"/images/{quote(image, safe='/:@')}/json")
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            raise self._api_error(response, f"cannot inspect image {image}")
        return True

    def inspect(self, container: str) -> dict[str, Any] | None:
        """`docker inspect` of a container, or None if there is no such container."""
        response = self.request("GET", f"/containers/{quote(container, safe='')}/json")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._api_error(response, f"cannot inspect container {container}")
        data = response.json()
        return data if isinstance(data, dict) else None

    def containers(self, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        """Every container (running or not) carrying all of `labels`."""
        filters = json.dumps({"label": [f"{k}={v}" for k, v in sorted(labels.items())]})
        response = self.request("GET", "/containers/json", params={"all": "1", "filters": filters})
        if response.status_code != 200:
            raise self._api_error(response, "cannot list containers")
        data = response.json()
        return [c for c in data if isinstance(c, dict)] if isinstance(data, list) else []

    def events(self, container: str, since: float, until: float) -> list[dict[str, Any]]:
        """The engine's recorded events of `container` between two Unix times (returns at once: `until` is
        not in the future)."""
        filters = json.dumps({"container": [container], "type": ["container"]})
        params = {"since": f"{since:.9f}", "until": f"{until:.9f}", "filters": filters}
        response = self.request("GET", "/events", params=params)
        if response.status_code != 200:
            raise self._api_error(response, f"cannot read the events of {container}")
        out = []
        for line in response.text.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                out.append(event)
        return out

    def logs(self, container: str, lines: int) -> list[str] | None:
        """The last `lines` lines of a container's output (stdout and stderr), or None if it does not exist."""
        params = {"stdout": "1", "stderr": "1", "tail": str(max(lines, 0))}
        response = self.request("GET", f"/containers/{quote(container, safe='')}/logs", params=params)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._api_error(response, f"cannot read the logs of {container}")
        text = demux(response.content).decode("utf-8", errors="replace")
        return text.splitlines()[-lines:] if lines > 0 else []

    def create(self, name: str, body: Mapping[str, Any], *, hidden: Iterable[str] = ()) -> str:
        """Create container `name` from an Engine API create body; its id. `hidden`: the secret values the
        body carries, masked in any error (the engine may quote the request back)."""
        response = self.request("POST", "/containers/create", params={"name": name}, json=dict(body))
        if response.status_code != 201:
            raise self._api_error(response, f"cannot create container {name}", hidden)
        return str(response.json()["Id"])

    def start(self, container: str) -> TargetError | None:
        """Start a created container; the engine's refusal as an error (not raised: the container exists, and
        `inspect` shows why it did not start), None if it started or was running."""
        response = self.request("POST", f"/containers/{quote(container, safe='')}/start")
        if response.status_code in (204, 304):
            return None
        return self._api_error(response, f"cannot start container {container}")

    def stop(self, container: str, timeout: int) -> None:
        """Stop a container: SIGTERM, then SIGKILL after `timeout` seconds. A missing or stopped one is fine."""
        response = self.request(
            "POST",
            f"/containers/{quote(container, safe='')}/stop",
            params={"t": str(timeout)},
            timeout=timeout + API_TIMEOUT,
        )
        if response.status_code not in (204, 304, 404):
            raise self._api_error(response, f"cannot stop container {container}")

    def remove(self, container: str) -> None:
        """Remove a container (killed if still running) and its anonymous volumes. A missing one is fine."""
        response = self.request(
            "DELETE", f"/containers/{quote(container, safe='')}", params={"force": "1", "v": "1"}
        )
        if response.status_code not in (204, 404):
            raise self._api_error(response, f"cannot remove container {container}")


def demux(raw: bytes) -> bytes:
    """The payload of the engine's multiplexed log stream (8-byte frame headers), or `raw` if not framed."""
    out, pos = bytearray(), 0
    while pos + 8 <= len(raw):
        stream, size = raw[pos], int.from_bytes(raw[pos + 4 : pos + 8], "big")
        if stream not in (0, 1, 2) or raw[pos + 1 : pos + 4] != b"\0\0\0":
            return raw  # a TTY container: not framed
        out += raw[pos + 8 : pos + 8 + size]
        pos += 8 + size
    return bytes(out)
