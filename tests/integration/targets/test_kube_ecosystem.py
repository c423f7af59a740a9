"""The example ecosystem deploys to a real control plane (kwok simulates the kubelets) through the CLI."""

from __future__ import annotations

import json
import shutil

from fixtures.eco import SECRET, Eco
from fixtures.kube import KubeCluster, deployer_rbac


def test_example_ecosystem_deploys_to_the_cluster(eco: Eco, kube_cluster: KubeCluster) -> None:
    namespace = "tiation-production"  # what examples/ecosystem/tiation.yaml names
    (eco.root / ".kube").mkdir()
    shutil.copy(kube_cluster.kubeconfig, eco.root / ".kube" / "config")
    kube_cluster.kubectl("create", "namespace", namespace)
    rbac = eco.root / "rbac.json"
    rbac.write_text(json.dumps(deployer_rbac(namespace)))
    kube_cluster.kubectl("apply", "-f", str(rbac))
    try:
        # liberation-system's DATABASE_URL is a secret reference: in the cluster it comes from a Secret.
        missing = eco.tiation("deploy", "cluster", "all", expect=1)
        assert "secret 'liberation-system-secrets' needed by liberation-system does not exist" in missing.out
        kube_cluster.kubectl(
            "create", "secret", "generic", "liberation-system-secrets", "-n", namespace,
            f"--from-literal=DATABASE_URL=postgresql://app:{SECRET}@db:5432/tiation",
        )  # fmt: skip

        run = eco.tiation("deploy", "cluster", "all", "--json")
        outcomes = {o["service"]: o["status"] for o in run.json()["outcomes"]}
        assert outcomes == dict.fromkeys(
            ["liberation-system", "ai-agents", "cms", "terminal-workflows"], "succeeded"
        )
        deps = json.loads(kube_cluster.kubectl("get", "deployments", "-n", namespace, "-o", "json").stdout)
        live = {
            d["metadata"]["name"]: (
                d["spec"]["template"]["spec"]["containers"][0]["image"],
                d["status"].get("readyReplicas"),
            )
            for d in deps["items"]
        }
        assert live == {
            "liberation-system": ("tiation-example/liberation-system:1.0.0", 3),
            "ai-agents": ("tiation-example/ai-agents:1.0.0", 1),
            "terminal-workflows": ("tiation-example/terminal-workflows:1.0.0", 1),
            "cms": ("tiation-example/cms:1.0.0", 1),
        }
        manifest = json.dumps(deps)
        assert SECRET not in manifest and SECRET not in "".join(eco.outputs)
        status = eco.tiation("status", "cluster", "--json").json()["services"]
        assert {r["service"]: r["version"] for r in status} == dict.fromkeys(live, "1.0.0")
    finally:
        kube_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
