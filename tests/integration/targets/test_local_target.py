"""The local target with real processes: proxy, supervisors, blue/green switching, stop, observe."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from local_kit import ENV, Kit, http_get, try_get, wait_until

from fixtures.common import free_port, our_processes
from tiation.errors import TargetError
from tiation.secrets import SecretRef
from tiation.targets.base import Endpoint, Observed, Rollout
from tiation.targets.proxied.common import process_alive
from tiation.targets.proxied.target import KEEP_STOPPED

pytestmark = pytest.mark.integration


def serve(kit: Kit, version: str, **kwargs: Any) -> Rollout:
    """Apply `version`, wait until its endpoint answers, promote it."""
    rollout = kit.target.apply(kit.release(version, **kwargs))
    wait_until(lambda: try_get(rollout.endpoint) == version, what=f"{version} to answer")
    kit.target.promote(rollout)
    return rollout


def instance_dir(kit: Kit, rollout: Rollout) -> Path:
    return kit.root / "local" / ENV / rollout.release.service / "instances" / rollout.instance_id


def supervisor_pid(kit: Kit, rollout: Rollout) -> int:
    return int(json.loads((instance_dir(kit, rollout) / "supervisor.pid").read_text())["pid"])


def test_apply_and_promote_serve_through_the_proxy_after_the_cli_exits(kit: Kit) -> None:
    kit.target.check()
    release = kit.release("v1")
    script = textwrap.dedent(
        """
        import json, sys, time, socket
        from pathlib import Path
        from tiation.clock import SystemClock
        from tiation.targets.base import Release
        from tiation.targets.local.target import LocalTarget

        release = Release.from_dict(json.loads(sys.argv[2]))
        target = LocalTarget(Path(sys.argv[1]), release.environment, clock=SystemClock())
        rollout = target.apply(release)
        for _ in range(300):
            try:
                socket.create_connection((rollout.endpoint.host, rollout.endpoint.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        target.promote(rollout)
        print(rollout.instance_id)
        """
    )
    cli = subprocess.run(
        [sys.executable, "-c", script, str(kit.root), json.dumps(release.to_dict())],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    instance_id = cli.stdout.strip()

    public = kit.public_port("web")
    assert http_get(public) == "v1"
    observed = kit.target.observe("web")
    assert observed.serving is not None
    assert (observed.serving.id, observed.serving.state, observed.serving.version) == (
        instance_id,
        "running",
        "v1",
    )
    assert observed.public == Endpoint("127.0.0.1", public)
    assert any("listening on" in line for line in kit.target.logs("web"))


def test_blue_green_switch_loses_no_request(kit: Kit) -> None:
    target = kit.target
    public = kit.public_port("web")
    v1 = serve(kit, "v1")
    serving = target.observe("web").serving
    assert serving is not None and serving.pid is not None
    v1_pid = serving.pid

    v2 = target.apply(kit.release("v2"))
    assert v2.previous_instance_id == v1.instance_id
    wait_until(lambda: try_get(v2.endpoint) == "v2", what="v2 to answer")
    assert http_get(public) == "v1"
    assert http_get(v2.endpoint) == "v2"

    answers: list[str] = []
    failures: list[str] = []
    done = threading.Event()

    def client() -> None:
        while not done.is_set():
            try:
                answers.append(http_get(public, "/slow"))
            except (OSError, http.client.HTTPException) as exc:
                failures.append(repr(exc))

    clients = [threading.Thread(target=client) for _ in range(3)]
    for thread in clients:
        thread.start()
    try:
        wait_until(lambda: len(answers) >= 6, what="requests before the switch")
        target.promote(v2)
        after = len(answers)
        wait_until(lambda: len(answers) >= after + 6, what="requests after the switch")
    finally:
        done.set()
        for thread in clients:
            thread.join()

    assert failures == []
    assert "v1" in answers and answers[-1] == "v2"
    assert http_get(public) == "v2"
    assert not process_alive(v1_pid)
    observed = target.observe("web")
    assert observed.serving is not None and observed.serving.id == v2.instance_id
    states = {i.id: i.state for i in observed.instances}
    assert states == {v1.instance_id: "stopped", v2.instance_id: "running"}
    target.promote(v2)  # idempotent
    assert http_get(public) == "v2"


def test_abort_stops_the_candidate_and_leaves_the_serving_instance_alone(kit: Kit) -> None:
    target = kit.target
    v1 = serve(kit, "v1")
    before = target.observe("web").serving
    assert before is not None

    v2 = target.apply(kit.release("v2"))
    wait_until(lambda: try_get(v2.endpoint) == "v2", what="v2 to answer")
    target.abort(v2)

    after = target.observe("web")
    assert after.serving is not None
    assert (after.serving.id, after.serving.pid, after.serving.state) == (
        v1.instance_id,
        before.pid,
        "running",
    )
    assert {i.id: i.state for i in after.instances}[v2.instance_id] == "stopped"
    assert try_get(v2.endpoint) is None
    assert http_get(kit.public_port("web")) == "v1"
    log = target.logs("web", instance_id=v2.instance_id, lines=100)
    assert any("listening on" in line for line in log)
    assert target.logs("web", instance_id=v2.instance_id, lines=1) == log[-1:]
    with pytest.raises(TargetError, match="is serving"):
        target.abort(v1)
    with pytest.raises(TargetError, match="is serving"):
        target.discard("web", v1.instance_id)
    with pytest.raises(TargetError, match="no instance"):
        target.discard("web", "20000101T000000-0000")
    assert http_get(kit.public_port("web")) == "v1"


def test_apply_refuses_a_public_port_held_by_another_process(kit: Kit) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(TargetError) as err:
            kit.target.apply(kit.release("v1", port=port))
    assert str(err.value) == f"port {port} on 127.0.0.1 is in use by another process"
    assert kit.target.observe("web").instances == ()


def test_proxy_rereads_the_serving_file_on_each_connection(kit: Kit) -> None:
    target = kit.target
    public = kit.public_port("web")
    v1 = serve(kit, "v1")
    v2 = target.apply(kit.release("v2"))
    wait_until(lambda: try_get(v2.endpoint) == "v2", what="v2 to answer")
    serving_file = kit.root / "local" / ENV / "web" / "serving.json"
    original = serving_file.read_text()

    def write(text: str) -> None:
        tmp = serving_file.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, serving_file)

    # No signal: the proxy notices the new file on the next connection.
    write(json.dumps({"instance_id": v2.instance_id, "host": "127.0.0.1", "port": v2.endpoint.port}))
    assert http_get(public) == "v2"
    serving_file.unlink()
    with pytest.raises((OSError, http.client.HTTPException)):
        http_get(public)
    write(original)
    assert http_get(public) == "v1"
    target.abort(v2)
    assert http_get(public) == "v1"
    assert v1.instance_id == json.loads(serving_file.read_text())["instance_id"]


def test_promote_restarts_a_dead_proxy_and_follows_a_new_public_port(kit: Kit) -> None:
    target = kit.target
    v1 = serve(kit, "v1")
    proxy = json.loads((kit.root / "local" / ENV / "web" / "proxy.json").read_text())
    os.kill(proxy["pid"], signal.SIGKILL)
    wait_until(lambda: target.observe("web").public is None, what="the proxy to be seen dead")
    target.promote(v1)  # idempotent, and brings the proxy back
    assert http_get(kit.public_port("web")) == "v1"

    new_port = free_port()
    v2 = target.apply(kit.release("v2", port=new_port))
    wait_until(lambda: try_get(v2.endpoint) == "v2", what="v2 to answer")
    target.promote(v2)
    assert http_get(new_port) == "v2"
    assert try_get(kit.public_port("web")) is None
    assert target.observe("web").public == Endpoint("127.0.0.1", new_port)


def test_stop_stops_every_process_of_the_service(kit: Kit) -> None:
    target = kit.target
    public = kit.public_port("web")
    serve(kit, "v1")
    v2 = target.apply(kit.release("v2"))
    wait_until(lambda: try_get(v2.endpoint) == "v2", what="v2 to answer")

    target.stop("web")

    observed = target.observe("web")
    assert (observed.serving, observed.public) == (None, None)
    assert {i.state for i in observed.instances} == {"stopped"}
    assert try_get(public) is None and try_get(v2.endpoint) is None
    assert our_processes(kit.root) == []
    target.stop("web")  # nothing left to stop: still fine


def test_observe_shows_restarts_and_a_dead_supervisor(kit: Kit) -> None:
    target = kit.target
    v1 = serve(kit, "v1")
    serving = target.observe("web").serving
    assert serving is not None and serving.pid is not None
    os.kill(serving.pid, signal.SIGKILL)

    def restarted() -> Observed | None:
        observed = target.observe("web")
        s = observed.serving
        ok = s is not None and s.restarts >= 1 and s.state == "running" and s.pid != serving.pid
        return observed if ok else None

    wait_until(restarted, what="a restart")
    wait_until(lambda: try_get(kit.public_port("web")) == "v1", what="v1 to answer again")

    os.kill(supervisor_pid(kit, v1), signal.SIGKILL)
    after = wait_until(
        lambda: (s := target.observe("web").serving) and s.state == "exited" and s, what="exited"
    )
    assert after.id == v1.instance_id and after.restarts >= 1
    # The orphaned child still runs: the kit's teardown (stop) must clean it up.


def test_config_files_are_written_to_the_config_dir(kit: Kit) -> None:
    config = {"app.conf": "greeting = hello\n", "nested/extra.txt": "more"}
    rollout = kit.target.apply(kit.release("v1", args=("--config", "{config_dir}/app.conf"), config=config))
    wait_until(lambda: try_get(rollout.endpoint, "/config") == "greeting = hello\n", what="the config")
    assert (instance_dir(kit, rollout) / "config" / "nested" / "extra.txt").read_text() == "more"
    with pytest.raises(TargetError, match="relative path"):
        kit.target.apply(kit.release("v2", config={"../escape.conf": "x"}))
    kit.target.abort(rollout)


def test_secret_env_reaches_the_child_but_no_file(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cret-" + os.urandom(12).hex()
    monkeypatch.setenv("TIATION_TEST_LOCAL_SECRET", secret)
    seen = kit.tmp / "seen.txt"
    release = kit.release(
        "v1",
        args=("--write-env", "API_TOKEN", str(seen), "--print-env", "API_TOKEN"),
        env={"API_TOKEN": SecretRef("env:TIATION_TEST_LOCAL_SECRET"), "PLAIN": "plain"},
    )
    rollout = kit.target.apply(release)
    wait_until(lambda: try_get(rollout.endpoint) == "v1", what="v1 to answer")
    assert seen.read_text() == secret

    import hashlib

    digest = hashlib.sha256(secret.encode()).hexdigest()
    log = "\n".join(kit.target.logs("web", instance_id=rollout.instance_id, lines=100))
    assert f"sha256 of API_TOKEN: {digest}" in log
    assert "the value is <secret>" in log  # the app printed it; the supervisor masked it
    spec = json.loads((instance_dir(kit, rollout) / "spec.json").read_text())
    assert spec["env"]["API_TOKEN"]["secret"] == "env:TIATION_TEST_LOCAL_SECRET"
    kit.target.abort(rollout)
    for path in kit.root.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


def test_old_stopped_instances_are_collected(kit: Kit) -> None:
    target = kit.target
    v1 = serve(kit, "v1")
    aborted = []
    for n in range(KEEP_STOPPED + 2):
        rollout = target.apply(kit.release(f"c{n}", mode="exit", args=("--code", "0", "--after", "30")))
        target.abort(rollout)
        aborted.append(rollout.instance_id)
    instances = kit.root / "local" / ENV / "web" / "instances"
    kept = sorted(p.name for p in instances.iterdir())
    assert kept == sorted([v1.instance_id, *aborted[-KEEP_STOPPED:]])
    logs = kit.root / "logs" / ENV / "web"
    assert not (logs / f"{aborted[0]}.log").exists()
    assert (logs / f"{aborted[-1]}.log").exists()
    assert http_get(kit.public_port("web")) == "v1"
