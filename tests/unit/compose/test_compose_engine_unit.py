"""The engine client and the target's create path against a scripted engine (httpx.MockTransport)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from fixtures.common import free_port
from tiation.clock import SystemClock
from tiation.errors import TargetError
from tiation.secrets import SecretRef
from tiation.targets.base import Release
from tiation.targets.compose.engine import DockerEngine
from tiation.targets.compose.target import ComposeTarget

SECRET = "planted-engine-s3cret"
SHORT = "x9z"  # shorter than the redaction registry masks by itself


def _echoing_engine(seen: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    """An engine that knows every image and refuses every create, quoting the whole request back."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/_ping":
            return httpx.Response(200, text="OK")
        if request.url.path.startswith("/images/"):
            return httpx.Response(200, json={"Id": "sha256:1"})
        if request.url.path == "/containers/create":
            return httpx.Response(400, json={"message": f"invalid request: {request.content.decode()}"})
        return httpx.Response(404, json={"message": "no such container"})

    return handle


def test_a_refused_create_names_no_secret_value() -> None:
    engine = DockerEngine("unix:///nowhere", transport=httpx.MockTransport(_echoing_engine([])))
    body = {"Image": "app:1", "Env": [f"A={SECRET}", f"B={SHORT}"]}
    with pytest.raises(TargetError) as caught:
        engine.create("p-web-x", body, hidden=[SECRET, SHORT])
    message = str(caught.value)
    assert message.startswith("Docker engine at unix:///nowhere: cannot create container p-web-x: invalid")
    assert SECRET not in message and f"B={SHORT}" not in message and "\n" not in message


def test_stop_waits_for_the_timeout_and_remove_forces(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(304 if request.url.path.endswith("/stop") else 204)

    engine = DockerEngine("unix:///nowhere", transport=httpx.MockTransport(handle))
    engine.stop("c1", 7)
    engine.remove("c1")
    assert [(r.method, r.url.path, dict(r.url.params)) for r in seen] == [
        ("POST", "/containers/c1/stop", {"t": "7"}),
        ("DELETE", "/containers/c1", {"force": "1", "v": "1"}),
    ]
    assert seen[0].extensions["timeout"]["read"] > 7


def test_apply_sends_the_secret_only_in_the_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIATION_TEST_ENGINE_PW", SECRET)
    seen: list[httpx.Request] = []
    target = ComposeTarget(tmp_path / ".tiation", "dev", project="p", clock=SystemClock())
    target.engine = DockerEngine("unix:///nowhere", transport=httpx.MockTransport(_echoing_engine(seen)))
    release = Release(
        "dev", "web", "1.0.0", (), free_port(), env={"DB_PASSWORD": SecretRef("env:TIATION_TEST_ENGINE_PW")},
        image="app:1",
    )  # fmt: skip
    with pytest.raises(TargetError) as caught:
        target.apply(release)
    assert SECRET not in str(caught.value)
    [create] = [r for r in seen if r.url.path == "/containers/create"]
    assert f"DB_PASSWORD={SECRET}" in json.loads(create.content)["Env"]
    assert dict(create.url.params) == {"name": create.url.params["name"]}  # the value is in the body only
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    [record] = list(tmp_path.rglob("instance.json"))
    assert json.loads(record.read_text())["state"] == "removed"  # nothing left to serve or clean up


def test_no_client_binary_is_run_anywhere_in_src() -> None:
    """The Engine API only: nothing under src/ starts `docker-compose` (or `docker`) as a process."""
    src = Path(__file__).resolve().parents[3] / "src" / "tiation"
    runs = re.compile(r"""["'](?:/usr/bin/)?docker(?:-compose)?["']\s*[,\])]""")
    found = [str(p) for p in src.rglob("*.py") if runs.search(p.read_text(encoding="utf-8"))]
    assert found == []
    compose = src / "targets" / "compose"
    assert all("subprocess" not in p.read_text(encoding="utf-8") for p in compose.glob("*.py"))


def test_an_engine_that_is_down_makes_instances_unknown_never_not_running(tmp_path: Path) -> None:
    target = ComposeTarget(tmp_path / ".tiation", "dev", project="p", clock=SystemClock())
    target.engine = DockerEngine(f"unix://{tmp_path}/no-docker.sock")  # nothing listens there
    paths = target._paths("web")
    files = paths.instance("20260301T120000-abcd")
    files.dir.mkdir(parents=True)
    record = {"state": "created", "container": "p-web-x", "version": "1.0.0", "digest": "sha256:1"}
    (files.dir / "instance.json").write_text(json.dumps({**record, "host": "127.0.0.1", "port": 1}))
    paths.serving.write_text(json.dumps({"instance_id": files.id, "version": "1.0.0"}))
    seen = target.observe("web")
    assert seen.serving is not None and seen.serving.version == "1.0.0"
    assert seen.serving.state == "unknown"
    assert not seen.proxy_down  # unknown is not "running": no claim that clients get nothing
