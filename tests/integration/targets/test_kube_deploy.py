"""The kubernetes target on a real control plane (kwok simulates the kubelets), driven through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from fixtures.eco import Eco
from fixtures.kube import KubeCluster

PLATFORM = """\
version: 1
project: {{name: kt}}
environments:
  prod:
    target: kubernetes
    kubernetes: {{kubeconfig: kubeconfig, context: {context}, namespace: {namespace}{extra}}}
services:
  cms:
    port: 8080
    image: registry.local/cms:{{version}}
    replicas: 2
    config:
      app.yaml: "release: {{version}}\\n"
    health:
      deadline: {deadline}
      probes:
        - http: {{path: /health}}
          interval: 1s
"""


def kube_project(
    tmp_path: Path,
    cluster: KubeCluster,
    namespace: str,
    *,
    context: str = "deployer",
    deadline: str = "30s",
    extra: str = "",
) -> Eco:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(cluster.kubeconfig, root / "kubeconfig")
    (root / "tiation.yaml").write_text(
        PLATFORM.format(context=context, namespace=namespace, deadline=deadline, extra=extra)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIATION_", "KUBECONFIG"))}
    env.update(TIATION_FILE=str(root / "tiation.yaml"), TIATION_ACTOR="alice")
    return Eco(root, env)


def deployment(cluster: KubeCluster, namespace: str, name: str = "cms") -> dict[str, Any]:
    done = cluster.kubectl("get", "deployment", name, "-n", namespace, "-o", "json")
    return dict(json.loads(done.stdout))


def live_version_and_config(cluster: KubeCluster, namespace: str) -> tuple[str, str, bool]:
    """(image tag, content of the ConfigMap the template mounts, rollout complete)."""
    dep = deployment(cluster, namespace)
    pod = dep["spec"]["template"]["spec"]
    tag = pod["containers"][0]["image"].rsplit(":", 1)[1]
    cm_name = pod["volumes"][0]["configMap"]["name"]
    cm = json.loads(cluster.kubectl("get", "configmap", cm_name, "-n", namespace, "-o", "json").stdout)
    status = dep.get("status", {})
    complete = (
        status.get("observedGeneration") == dep["metadata"]["generation"]
        and status.get("updatedReplicas") == status.get("replicas") == status.get("availableReplicas") == 2
    )
    return tag, cm["data"]["app.yaml"], complete


def deploy(project: Eco, version: str, expect: int = 0) -> dict[str, Any]:
    run = project.tiation("deploy", "prod", "cms", version, "--json", expect=expect)
    [outcome] = run.json()["outcomes"]
    return dict(outcome)


def test_deploy_then_crash_loop_rolls_back_bundle(
    tmp_path: Path, kube_cluster: KubeCluster, kube_namespace: str
) -> None:
    project = kube_project(tmp_path, kube_cluster, kube_namespace)
    assert deploy(project, "1.0.0")["status"] == "succeeded"
    assert live_version_and_config(kube_cluster, kube_namespace) == ("1.0.0", "release: 1.0.0\n", True)
    assert deploy(project, "1.1.0")["status"] == "succeeded"

    failed = deploy(project, "1.2.0-crashloop", expect=1)
    assert failed["status"] == "failed"
    assert failed["verdict"].startswith("crash loop: pod cms-")
    assert "CrashLoopBackOff" in failed["verdict"]
    assert failed["rolled_back_to"] == "1.1.0"
    # The template and the config it reads are 1.1.0's again, and the rollout is complete.
    assert live_version_and_config(kube_cluster, kube_namespace) == ("1.1.0", "release: 1.1.0\n", True)

    why = project.tiation("why", failed["deployment_id"], "--json").json()
    assert any(e["kind"] == "crash_loop" for e in why["evidence"]["events"])
    status = project.tiation("status", "prod", "--json").json()["services"]
    assert [(r["service"], r["version"]) for r in status] == [("cms", "1.1.0")]


def test_failed_first_release_leaves_nothing_and_stop_removes_all(
    tmp_path: Path, kube_cluster: KubeCluster, kube_namespace: str
) -> None:
    project = kube_project(tmp_path, kube_cluster, kube_namespace)
    failed = deploy(project, "1.0.0-crashloop", expect=1)
    assert failed["verdict"].startswith("crash loop:") and failed["rolled_back_to"] is None
    listed = kube_cluster.kubectl("get", "deployments", "-n", kube_namespace, "-o", "name")
    assert listed.stdout.strip() == ""  # nothing served before, so nothing is left serving

    deploy(project, "1.1.0")
    project.tiation("stop", "prod", "cms")
    left = kube_cluster.kubectl("get", "deployments,services,configmaps", "-n", kube_namespace, "-o", "name")
    assert [n for n in left.stdout.split() if "kube-root-ca" not in n] == []


def test_image_pull_failure_fails_fast(
    tmp_path: Path, kube_cluster: KubeCluster, kube_namespace: str
) -> None:
    project = kube_project(tmp_path, kube_cluster, kube_namespace, deadline="60s")
    deploy(project, "1.0.0")
    failed = deploy(project, "2.0.0-imagepull", expect=1)
    assert failed["verdict"].startswith("image cannot be pulled: pod cms-")
    why = project.tiation("why", failed["deployment_id"], "--json").json()
    assert {e["kind"] for e in why["evidence"]["events"]} == {"image_pull_failed"}  # not the 60 s deadline
    assert failed["rolled_back_to"] == "1.0.0"


def test_bad_previous_release_is_skipped(
    tmp_path: Path, kube_cluster: KubeCluster, kube_namespace: str
) -> None:
    project = kube_project(tmp_path, kube_cluster, kube_namespace)
    deploy(project, "1.0.0")
    assert deploy(project, "1.1.0-notready", expect=1)["verdict"].startswith("readiness probe failing")
    deploy(project, "1.2.0")
    run = project.tiation("rollback", "prod", "cms", "--json")
    assert run.json()["version"] == "1.0.0"  # not 1.1.0, which failed verification
    assert live_version_and_config(kube_cluster, kube_namespace) == ("1.0.0", "release: 1.0.0\n", True)
    again = project.tiation("rollback", "prod", "cms", "--to", "1.2.0", "--json")
    assert again.json()["status"] == "succeeded"
    assert live_version_and_config(kube_cluster, kube_namespace) == ("1.2.0", "release: 1.2.0\n", True)


def test_rollback_runs_the_prechecks_first(
    tmp_path: Path, kube_cluster: KubeCluster, kube_namespace: str
) -> None:
    project = kube_project(tmp_path, kube_cluster, kube_namespace)
    project.edit("    replicas: 2\n", "    replicas: 2\n    env: {DATABASE_URL: 'env:DB_URL'}\n")
    kube_cluster.kubectl(
        "create", "secret", "generic", "cms-secrets", "-n", kube_namespace, "--from-literal=DATABASE_URL=x"
    )
    deploy(project, "1.0.0")
    deploy(project, "1.1.0")
    kube_cluster.kubectl("delete", "secret", "cms-secrets", "-n", kube_namespace)
    run = project.tiation("rollback", "prod", "cms", expect=1)
    assert run.stderr.strip().splitlines() == [
        f"error: cannot roll cms back to 1.0.0: secret 'cms-secrets' needed by cms does not exist in namespace "
        f"'{kube_namespace}'"
    ]
    assert live_version_and_config(kube_cluster, kube_namespace)[0] == "1.1.0"  # nothing was changed


def test_controller_progress_deadline_is_honoured(
    tmp_path: Path, kube_cluster: KubeCluster, kube_namespace: str
) -> None:
    project = kube_project(
        tmp_path, kube_cluster, kube_namespace, deadline="120s", extra=", progress_deadline: 3s"
    )
    deploy(project, "1.0.0")
    assert deployment(kube_cluster, kube_namespace)["spec"]["progressDeadlineSeconds"] == 3
    failed = deploy(project, "1.1.0-slow", expect=1)
    assert failed["verdict"] == 'progress deadline exceeded: deployment "cms" exceeded its progress deadline'
    assert failed["rolled_back_to"] == "1.0.0"


def test_concurrent_deploy_is_refused(tmp_path: Path, kube_cluster: KubeCluster, kube_namespace: str) -> None:
    project = kube_project(tmp_path, kube_cluster, kube_namespace, deadline="8s")
    deploy(project, "1.0.0")
    slow = project.popen("deploy", "prod", "cms", "1.1.0-slow")
    try:
        deadline = time.monotonic() + 30
        while not project.tiation("lock", "list", "--json", expect=None).stdout.count('"cms"'):
            assert time.monotonic() < deadline, "the first deploy never took the lease"
            time.sleep(0.1)
        run = project.tiation("deploy", "prod", "cms", "1.2.0", expect=1)
        assert "prod/cms is locked by" in run.stderr, run.out
        assert len(run.stderr.strip().splitlines()) == 1
        assert (
            deployment(kube_cluster, kube_namespace)["metadata"]["annotations"]["tiation.dev/version"]
            != "1.2.0"
        )
    finally:
        slow.communicate(timeout=120)


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("context", "has no context 'nope'"),
        ("unreachable", "cannot reach the Kubernetes API at https://127.0.0.1:"),
        ("namespace", "namespace 'missing-ns' does not exist"),
        ("secret", "secret 'cms-secrets' needed by cms does not exist"),
        ("forbidden", "forbidden (RBAC)"),
    ],
)
def test_errors_are_one_clear_line(
    tmp_path: Path, kube_cluster: KubeCluster, kube_namespace: str, case: str, needle: str
) -> None:
    context, namespace = "deployer", kube_namespace
    if case == "context":
        context = "nope"
    elif case == "unreachable":
        context = "unreachable"
    elif case == "namespace":
        context, namespace = "admin", "missing-ns"  # a namespaced deployer is only told "forbidden"
    elif case == "forbidden":
        namespace = "default"  # the deployer has no Role there
    project = kube_project(tmp_path, kube_cluster, namespace, context=context)
    if case == "secret":
        project.edit("    replicas: 2\n", "    replicas: 2\n    env: {DATABASE_URL: 'env:DB_URL'}\n")
    run = project.tiation("deploy", "prod", "cms", "1.0.0", expect=None, extra_env={"DB_URL": "s3cr3t-value"})
    assert run.code != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.out
    assert needle in lines[0], lines[0]
    assert "Traceback" not in run.out and "s3cr3t-value" not in run.out
