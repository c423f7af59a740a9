"""Talking to the Docker engine: its HTTP API over the unix socket (inspect, logs, images) and `docker-compose`.

The engine API is read with httpx (already a dependency); containers are created and removed with Debian's
`docker-compose` (v1), always as an argument list, with the engine's address in its environment. Every failure
becomes a one-line TargetError that names the engine's address; secret values never appear in one (callers pass
them only through the environment of `docker-compose`, and its output is redacted).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from tiation.errors import TargetError
from tiation.redact import redact

if TYPE_CHECKING:
    import httpx

DEFAULT_HOST = "unix:///var/run/docker.sock"
COMPOSE_CANDIDATES = ("/usr/bin/docker-compose",)
API_TIMEOUT = 10.0
COMPOSE_TIMEOUT = 120.0
_KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


def engine_address(docker_host: str | None) -> str:
    """The engine's address: the setting, else $DOCKER_HOST, else the system socket."""
    return docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def compose_binary() -> str:
    """Debian's `docker-compose` (v1): /usr/bin first, else the first on PATH; TargetError if there is none."""
    for candidate in COMPOSE_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("docker-compose")
    if found is None:
        raise TargetError("docker-compose is not installed (Debian package docker-compose)")
    return found


def last_line(text: str) -> str:
    """The most telling line of docker-compose's output (its last `ERROR:` line, else its last line), redacted."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    meaningful = [line for line in lines if "variable is not set" not in line]
    line = (errors or meaningful or lines or [""])[-1]
    line = re.sub(r"^ERROR: (for \S+ +)?", "", line)
    return redact(line)[:300]


class DockerEngine:
    """A small client of the engine's HTTP API (unix:// or plain tcp:// addresses)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._client: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            import httpx

            parts = urlsplit(self.address)
            if parts.scheme == "unix":
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

    def _api_error(self, response: httpx.Response, what: str) -> TargetError:
        try:
            message = str(response.json().get("message", ""))
        except ValueError:
            message = response.text.strip()
        return TargetError(
            f"Docker engine at {self.address}: {what}: {redact(message or str(response.status_code))}"
        )

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
        import json

        filters = json.dumps({"label": [f"{k}={v}" for k, v in sorted(labels.items())]})
        response = self.request("GET", "/containers/json", params={"all": "1", "filters": filters})
        if response.status_code != 200:
            raise self._api_error(response, "cannot list containers")
        data = response.json()
        return [c for c in data if isinstance(c, dict)] if isinstance(data, list) else []

    def events(self, container: str, since: float, until: float) -> list[dict[str, Any]]:
        """The engine's recorded events of `container` between two Unix times (returns at once: `until` is
        not in the future)."""
        import json

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


class ComposeCli:
    """Runs `docker-compose -p PROJECT -f FILE ...` against one engine."""

    def __init__(self, address: str, binary: str | None = None) -> None:
        self.address = address
        self._binary = binary

    @property
    def binary(self) -> str:
        if self._binary is None:
            self._binary = compose_binary()
        return self._binary

    def run(
        self,
        project: str,
        file: Path,
        args: list[str],
        *,
        secrets: Mapping[str, str] | None = None,
        timeout: float = COMPOSE_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """Run one compose command; `secrets` are extra variables for `${...}` in the file (never on disk)."""
        env = {k: v for k, v in os.environ.items() if k in _KEEP_ENV}
        env["DOCKER_HOST"] = self.address
        env.update(secrets or {})
        argv = [self.binary, "--ansi", "never", "-p", project, "-f", str(file), *args]
        try:
            return subprocess.run(
                argv,
                env=env,
                cwd=str(file.parent),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TargetError(
                f"docker-compose {args[0]} for {project} took longer than {timeout:g}s"
            ) from None
        except OSError as exc:
            raise TargetError(f"cannot run {self.binary}: {exc.strerror or exc}") from None

    def check(self, project: str, file: Path, args: list[str], **kwargs: Any) -> None:
        """Like `run`, but TargetError (one redacted line of its output) if it fails."""
        done = self.run(project, file, args, **kwargs)
        if done.returncode != 0:
            raise TargetError(
                f"docker-compose {args[0]} for {project} failed: {last_line(done.stderr or done.stdout)}"
            )
