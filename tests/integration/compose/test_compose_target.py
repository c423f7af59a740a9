"""The compose target on a real Docker engine: blue/green through the proxy, failures, secrets, clean-up."""

from __future__ import annotations

import hashlib
import json

import pytest
from compose_kit import Client, ComposeKit, http_get, try_get, wait_until

from tiation.deploy.verdict import Failed
from tiation.errors import TargetError
from tiation.secrets import SecretRef
from tiation.targets.base import EventKind
from tiation.targets.compose.target import ComposeTarget


def version_at(port: int) -> str:
    return str(json.loads(http_get(port))["version"])


def test_deploy_v1_then_v2_keeps_the_public_port_answering(kit: ComposeKit) -> None:
    first = kit.deploy(kit.release("1.0.0"))
    port = kit.public_port("web")
    assert version_at(port) == "1.0.0"
    client = Client(port)
    client.start()
    wait_until(lambda: len(client.answers) >= 5, what="the client's first answers")
    second = kit.deploy(kit.release("2.0.0"))
    wait_until(lambda: try_get(port) and version_at(port) == "2.0.0", what="v2 on the public port")
    answers = client.finish()
    assert None not in answers, f"{answers.count(None)} of {len(answers)} requests failed during the switch"
    versions = [json.loads(a)["version"] for a in answers if a]
    assert versions[0] == "1.0.0" and versions[-1] == "2.0.0"
    assert versions == sorted(versions), "traffic went back to v1 after the switch"

    seen = kit.target.observe("web")
    assert seen.serving is not None and seen.serving.id == second.instance_id
    assert seen.serving.version == "2.0.0" and seen.serving.state == "running"
    assert seen.public is not None and seen.public.port == port
    states = {i.id: i.state for i in seen.instances}
    assert states[first.instance_id] == "stopped"
    # One container left, labelled with what it runs, in its own compose project, on the host network.
    [container] = kit.containers()
    labels = container["Labels"]
    assert labels["tiation.version"] == "2.0.0" and labels["tiation.service"] == "web"
    assert labels["tiation.digest"] == second.release.digest and labels["tiation.environment"] == "test"
    assert labels["com.docker.compose.project"] == f"{kit.project}-web-{second.instance_id}"
    assert container["HostConfig"]["NetworkMode"] == "host"
    compose_file = kit.target.root / "compose/test/web/instances" / second.instance_id / "docker-compose.yml"
    assert "network_mode: host" in compose_file.read_text()


def test_crashing_container_fails_fast_and_last_known_good_keeps_serving(kit: ComposeKit) -> None:
    kit.deploy(kit.release("1.0.0"))
    port = kit.public_port("web")
    rollout = kit.target.apply(kit.release("2.0.0", mode="crash"))
    verdict, seen = kit.verify(rollout)
    assert isinstance(verdict, Failed)
    assert verdict.reason == "process exited with code 3"
    assert any(e.kind is EventKind.EXITED and e.exit_code == 3 for e in seen.events)
    lines = kit.target.logs("web", instance_id=rollout.instance_id)
    assert any("fatal: missing key 'site_url'" in line for line in lines)
    kit.target.abort(rollout)
    assert version_at(port) == "1.0.0"
    assert [c["Labels"]["tiation.version"] for c in kit.containers()] == ["1.0.0"]
    # The removed candidate's output is kept for `tiation logs`/`why`.
    assert any("fatal" in line for line in kit.target.logs("web", instance_id=rollout.instance_id))
    assert kit.target.observe("web").version == "1.0.0"


def test_restart_loop_is_reported_from_the_restart_count(kit: ComposeKit) -> None:
    rollout = kit.target.apply(kit.release("3.0.0", mode="crash"))
    events = kit.events_until(rollout, EventKind.CRASH_LOOP)
    kinds = [e.kind for e in events]
    assert kinds.count(EventKind.RESTARTED) >= 3
    assert EventKind.EXITED in kinds
    [instance] = kit.target.observe("web").instances
    assert instance.restarts >= 3
    kit.target.abort(rollout)
    assert kit.containers() == []


def test_crash_after_start_is_an_exit_even_after_passing_probes(kit: ComposeKit) -> None:
    rollout = kit.target.apply(kit.release("4.0.0", mode="crash-later", after=1.5))
    verdict, seen = kit.verify(rollout, stable_for=10)
    assert isinstance(verdict, Failed) and verdict.code == "exited"
    assert any(r.ok for results in seen.results.values() for r in results), "it passed before it crashed"
    kit.target.abort(rollout)


def test_unhealthy_healthcheck_is_reported_and_the_probes_fail_the_candidate(kit: ComposeKit) -> None:
    rollout = kit.target.apply(kit.release("5.0.0", mode="unhealthy", after=1.5))
    verdict, _ = kit.verify(rollout, stable_for=10)
    assert isinstance(verdict, Failed) and verdict.code == "unhealthy_after_ready"
    events = kit.events_until(rollout, EventKind.INFO)
    info = [e.detail for e in events if e.kind is EventKind.INFO]
    assert any(d.startswith("healthcheck unhealthy") for d in info), info
    inspect = kit.engine.inspect(f"{kit.project}-web-{rollout.instance_id}")
    assert inspect is not None and inspect["State"]["Health"]["Status"] == "unhealthy"
    kit.target.abort(rollout)


def test_secret_and_config_reach_the_container_but_no_file_or_log(
    kit: ComposeKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "planted-compose-s3cret-$HOME-5b1c"  # a `$` must reach the container unchanged
    monkeypatch.setenv("TIATION_TEST_DB_PASSWORD", secret)
    release = kit.release(
        "1.0.0",
        env={"DB_PASSWORD": SecretRef("env:TIATION_TEST_DB_PASSWORD"), "MODE": "a$b"},
        config={"app.conf": "greeting: hello\n"},
    )
    rollout = kit.deploy(release)
    port = kit.public_port("web")
    assert http_get(port, "/secret").strip() == hashlib.sha256(secret.encode()).hexdigest()
    assert http_get(port, "/config") == "greeting: hello\n"
    container = kit.engine.inspect(f"{kit.project}-web-{rollout.instance_id}")
    assert container is not None
    assert "MODE=a$b" in container["Config"]["Env"]
    # created through the Engine API with the compose labels and the builder's healthcheck
    assert container["Config"]["Labels"]["com.docker.compose.service"] == "web"
    assert container["Config"]["Healthcheck"]["Test"][0] == "CMD-SHELL"
    assert "/health" in container["Config"]["Healthcheck"]["Test"][1]
    [mount] = container["Mounts"]
    assert mount["Destination"] == "/tiation/config" and mount["RW"] is False
    for path in kit.tmp.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    compose = (
        kit.target.root / "compose/test/web/instances" / rollout.instance_id / "docker-compose.yml"
    ).read_text()
    assert "${TIATION_SECRET_0}" in compose
    assert all(secret not in line for line in kit.target.logs("web"))


def test_discard_refuses_the_serving_instance_and_stop_removes_everything(kit: ComposeKit) -> None:
    rollout = kit.deploy(kit.release("1.0.0"))
    with pytest.raises(TargetError, match="is serving web"):
        kit.target.discard("web", rollout.instance_id)
    assert try_get(kit.public_port("web")) is not None
    kit.target.stop("web")
    assert kit.containers() == []
    assert try_get(kit.public_port("web")) is None
    seen = kit.target.observe("web")
    assert seen.serving is None and seen.public is None


def test_unreachable_engine_and_missing_image_are_one_clear_line(kit: ComposeKit) -> None:
    socket = kit.tmp / "nowhere" / "docker.sock"
    offline = ComposeTarget(
        kit.tmp / "other", "test", project="x", docker_host=f"unix://{socket}", clock=kit.target.clock
    )
    for call in (offline.check, lambda: offline.apply(kit.release("1.0.0"))):
        with pytest.raises(TargetError) as caught:
            call()
        message = str(caught.value)
        assert (
            message
            == f"cannot reach the Docker engine at unix://{socket}: no such socket (is dockerd running?)"
        )
    with pytest.raises(TargetError) as missing:
        kit.target.apply(kit.release("9.9.9", image="tiation-test/absent:9.9.9"))
    assert str(missing.value).startswith(
        "image tiation-test/absent:9.9.9 does not exist on the Docker engine at unix://"
    )
    assert "\n" not in str(missing.value)
    assert kit.containers() == []
