"""Real local receivers for the notifier tests: an HTTP server that records and answers as scripted, an SMTP
server (aiosmtpd) that records and can refuse, and a certificate for STARTTLS."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from fixtures.common import free_port
from tiation.alerting.notifiers import Notification, Recipient


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP answer; `delay` seconds pass before it is sent."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    echo: bool = False
    """Answer with the request's path, headers and body (a receiver that quotes what it got back)."""


@dataclass(frozen=True)
class Recorded:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class Receiver:
    """An HTTP server on 127.0.0.1 and a free port, recording every request."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.default = Reply()
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(size)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.requests.append(Recorded("POST", self.path, headers, body))
                    reply = receiver._script.pop(0) if receiver._script else receiver.default
                if reply.delay:
                    receiver._stop.wait(reply.delay)
                data = reply.body
                if reply.echo:
                    said = f"{headers.get('authorization', '')} {self.path} ".encode() + body
                    data = said + b"\n" + json.dumps(headers).encode()
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.port = free_port()
        self._server = _Server(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def closed_port_url(path: str = "/hook") -> str:
    """A URL on which nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}{path}"


class MailHandler:
    """aiosmtpd handler: records accepted messages; refuses recipients or data as scripted."""

    def __init__(self) -> None:
        self.messages: list[Envelope] = []
        self.refuse_rcpt: dict[str, str] = {}
        """address -> SMTP reply for RCPT (e.g. '550 5.1.1 no such user')."""
        self.data_reply: str | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        self.messages.append(envelope)
        return "250 OK"


class Authenticator:
    """Accepts one username/password pair; remembers every attempt's outcome."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username.encode(), password.encode()
        self.attempts: list[bool] = []

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (self.username, self.password)
        self.attempts.append(ok)
        return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)


@contextmanager
def smtp_server(
    handler: MailHandler, *, authenticator: Authenticator | None = None, tls: Any = None
) -> Iterator[int]:
    """Run aiosmtpd on 127.0.0.1:free port; with `tls` (an SSLContext) STARTTLS is offered and required."""
    port = free_port()
    options: dict[str, Any] = {"hostname": "127.0.0.1", "port": port}
    if authenticator is not None:
        options.update(authenticator=authenticator, auth_require_tls=tls is not None)
    if tls is not None:
        options.update(tls_context=tls, require_starttls=True)
    controller = Controller(handler, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key), made with the openssl CLI."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def notification(
    *,
    event: str = "trigger",
    recipient: Recipient | None = None,
    key: str = "inc-1/0/slack/ops",
    **extra: Any,
) -> Notification:
    """A typical notification (HighErrorRate on cms)."""
    fields: dict[str, Any] = {
        "key": key,
        "incident_id": "inc-1",
        "event": event,
        "title": "[critical] HighErrorRate cms",
        "summary": "5xx rate above 5% for 5 minutes",
        "severity": "critical",
        "labels": {
            "alertname": "HighErrorRate",
            "service": "cms",
            "severity": "critical",
            "instance": "cms-1",
        },
        "annotations": {"runbook_url": "https://runbooks.example/5xx"},
        "recipient": recipient,
        "created_at": datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        "url": "https://tiation.example/incidents/inc-1",
    }
    fields.update(extra)
    return Notification(**fields)
