"""The rendered Kustomize overlay of the example, built by the real kubectl, is accepted by a real API server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fixtures.kube import KubeCluster
from fixtures.kustomize import render_overlay_objects
from tiation.clock import SystemClock
from tiation.errors import TargetError
from tiation.targets.kubernetes.target import KubernetesTarget

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ecosystem" / "tiation.yaml"


def test_rendered_overlay_passes_server_side_dry_run(tmp_path: Path, kube_cluster: KubeCluster) -> None:
    out = tmp_path / "k8s"
    subprocess.run(
        [sys.executable, "-m", "tiation", "-f", str(EXAMPLE), "render", "kubernetes", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    objects = render_overlay_objects(out / "overlays" / "cluster")
    kinds = sorted({o["kind"] for o in objects})
    # The example ships no config files, so there is no ConfigMap.
    assert kinds == [
        "Deployment", "NetworkPolicy", "PodDisruptionBudget", "Role", "RoleBinding", "Service", "ServiceAccount"
    ]  # fmt: skip
    namespace = objects[0]["metadata"]["namespace"]
    assert namespace == "tiation-production"
    kube_cluster.kubectl("create", "namespace", "tiation-production-dryrun")
    target = KubernetesTarget(
        "cluster",
        namespace="tiation-production-dryrun",
        context="admin",
        kubeconfig=str(kube_cluster.kubeconfig),
        clock=SystemClock(),
    )
    for obj in objects:
        moved = {**obj, "metadata": {**obj["metadata"], "namespace": "tiation-production-dryrun"}}
        answered = target.apply_object(moved, dry_run=True)
        assert answered["metadata"]["name"] == obj["metadata"]["name"]
        assert answered["kind"] == obj["kind"]
    # Dry run only: nothing was created.
    listed = kube_cluster.kubectl(
        "get", "deployments,services", "-n", "tiation-production-dryrun", "-o", "name"
    )
    assert listed.stdout.strip() == ""

    broken = next(o for o in objects if o["kind"] == "Deployment")
    broken = {**broken, "metadata": {**broken["metadata"], "namespace": "tiation-production-dryrun"}}
    broken["spec"] = {**broken["spec"], "replicas": -1}
    try:
        target.apply_object(broken, dry_run=True)
    except TargetError as exc:
        assert "spec.replicas" in str(exc) and "\n" not in str(exc)
    else:
        raise AssertionError("the API server accepted replicas: -1")
