"""`render_kubernetes`: the Kustomize tree's layout and content, as data (no kubectl here)."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from fixtures.kustomize import CONTAINER_PLATFORM, write_container_platform
from tiation.config.loader import LoadedPlatform, load_platform
from tiation.deploy.release import build_release
from tiation.errors import UsageError
from tiation.render.kubernetes import MARKER, json_patch, render_kubernetes, split_image
from tiation.targets.kubernetes import manifests as m

SERVICE_FILES = ["deployment.yaml", "kustomization.yaml", "poddisruptionbudget.yaml", "service.yaml"]


@pytest.fixture
def loaded(tmp_path: Path) -> LoadedPlatform:
    return load_platform(write_container_platform(tmp_path))


def _files(loaded: LoadedPlatform, **kwargs: Any) -> dict[str, str]:
    result = render_kubernetes(loaded.platform, loaded.root, source="tiation.yaml", **kwargs)
    return {f.name: f.content for f in result.files}


def _load(text: str) -> Any:
    return YAML(typ="safe").load(text)


def test_layout_is_base_per_service_shared_objects_and_an_overlay_per_environment(
    loaded: LoadedPlatform,
) -> None:
    files = _files(loaded)
    shared = [
        "networkpolicy-allow-dns.yaml",
        "networkpolicy-default-deny.yaml",
        "role.yaml",
        "rolebinding.yaml",
        "serviceaccount.yaml",
        "kustomization.yaml",
    ]
    expected = {f"base/{name}" for name in shared}
    expected |= {f"base/{s}/{name}" for s in ("api", "db", "web") for name in SERVICE_FILES}
    expected |= {
        "base/api/configmap.yaml",
        "base/api/networkpolicy.yaml",
        "base/db/networkpolicy.yaml",
        "base/web/networkpolicy.yaml",
    }
    expected |= {f"overlays/{env}/kustomization.yaml" for env in ("dev", "staging", "production")}
    assert set(files) == expected
    assert all(text.startswith(f"# {MARKER} from tiation.yaml") for text in files.values())
    base = _load(files["base/kustomization.yaml"])
    assert base["resources"] == [
        "serviceaccount.yaml",
        "role.yaml",
        "rolebinding.yaml",
        "networkpolicy-default-deny.yaml",
        "networkpolicy-allow-dns.yaml",
        "api",
        "db",
        "web",
    ]
    api = _load(files["base/api/kustomization.yaml"])
    assert sorted(api["resources"]) == sorted(
        [
            "configmap.yaml",
            "deployment.yaml",
            "service.yaml",
            "poddisruptionbudget.yaml",
            "networkpolicy.yaml",
        ]
    )


def test_base_reuses_the_targets_builders(loaded: LoadedPlatform) -> None:
    files = _files(loaded)
    release = build_release(loaded.platform, loaded.root, "dev", "api", "1.4.2")  # dev has no overrides
    deployment = _load(files["base/api/deployment.yaml"])
    assert deployment["spec"]["template"]["spec"]["containers"] == [m.container(release)]
    cm = _load(files["base/api/configmap.yaml"])
    assert cm["metadata"]["name"] == m.config_map_name(release)
    assert cm["data"] == dict(release.config) and cm["immutable"] is True
    assert _load(files["base/api/service.yaml"])["spec"] == m.service(release, "x")["spec"]
    # no namespace and no environment in the base; no release record (that is written by a tiation deploy)
    for name, text in files.items():
        if name.startswith("base/") and not name.endswith("kustomization.yaml"):
            meta = _load(text)["metadata"]
            assert "namespace" not in meta and m.ENV_LABEL not in meta["labels"], name
    annotations = deployment["metadata"]["annotations"]
    assert m.RELEASE_ANNOTATION not in annotations and m.DIGEST_ANNOTATION not in annotations
    assert annotations[m.VERSION_ANNOTATION] == "1.4.2"
    assert m.DIGEST_ANNOTATION not in deployment["spec"]["template"]["metadata"]["annotations"]


def test_overlay_sets_namespace_labels_replicas_images(loaded: LoadedPlatform) -> None:
    overlay = _load(_files(loaded)["overlays/production/kustomization.yaml"])
    assert overlay["namespace"] == "shop-prod"
    assert overlay["resources"] == ["../../base"]
    assert overlay["labels"] == [{"includeSelectors": False, "pairs": {m.ENV_LABEL: "production"}}]
    assert overlay["replicas"] == [
        {"count": 3, "name": "api"},
        {"count": 1, "name": "db"},
        {"count": 2, "name": "web"},
    ]
    assert overlay["images"] == [
        {"name": "ghcr.io/shop/web", "newTag": "v2.0.0"},
        {"name": "postgres", "newTag": "15.4"},
        {"name": "registry.example.com:5000/shop/api", "newTag": "1.4.2"},
    ]
    targets = sorted((p["target"]["kind"], p["target"]["name"]) for p in overlay["patches"])
    # progress deadline on every Deployment, web's probe, and the PDBs of the services with replicas > 1
    assert targets == [
        ("Deployment", "api"),
        ("Deployment", "db"),
        ("Deployment", "web"),
        ("PodDisruptionBudget", "api"),
        ("PodDisruptionBudget", "web"),
    ]
    dev = _load(_files(loaded)["overlays/dev/kustomization.yaml"])
    assert dev["patches"] == [] and dev["namespace"] == "default"


def test_versions_option_changes_image_tag_config_and_labels(loaded: LoadedPlatform) -> None:
    files = _files(loaded, versions={"api": "2.0.0"})
    assert "registry.example.com:5000/shop/api:2.0.0" in files["base/api/deployment.yaml"]
    assert _load(files["base/api/configmap.yaml"])["data"] == {"app.toml": 'version = "2.0.0"\n'}
    assert {"name": "registry.example.com:5000/shop/api", "newTag": "2.0.0"} in _load(
        files["overlays/staging/kustomization.yaml"]
    )["images"]


def test_same_input_same_bytes_wherever_the_file_is(loaded: LoadedPlatform, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    shutil.copy(loaded.path, elsewhere / "tiation.yaml")
    assert _files(loaded) == _files(loaded) == _files(load_platform(elsewhere / "tiation.yaml"))


def test_headers_explain_the_pdb_choice_and_the_namespace_grant(loaded: LoadedPlatform) -> None:
    files = _files(loaded)
    assert "maxUnavailable: 1 instead" in files["base/db/poddisruptionbudget.yaml"]
    assert "cluster-scoped" in files["base/role.yaml"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("    image: postgres:{version}\n", "services without 'image' cannot run in a container: db"),
        ('    default_version: "15.4"\n', "no version for db: give --version db=VERSION"),
    ],
)
def test_missing_image_or_version_is_one_clear_line(tmp_path: Path, edit: str, message: str) -> None:
    # with no environment on a container target the loader lets a service without an image through
    text = CONTAINER_PLATFORM.replace(edit, "")
    text = text.replace("target: compose", "target: fake").replace("target: kubernetes", "target: fake")
    loaded = load_platform(write_container_platform(tmp_path, text))
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        render_kubernetes(loaded.platform, loaded.root, source="tiation.yaml")


def test_unknown_service_in_versions_is_refused(loaded: LoadedPlatform) -> None:
    with pytest.raises(UsageError, match="unknown service 'nope'"):
        render_kubernetes(loaded.platform, loaded.root, versions={"nope": "1"}, source="tiation.yaml")


@pytest.mark.parametrize(
    ("image", "name", "tag"),
    [
        ("postgres:15", "postgres", "15"),
        ("registry:5000/team/app:1.2", "registry:5000/team/app", "1.2"),
        ("registry:5000/team/app", "registry:5000/team/app", None),
        ("app@sha256:" + "a" * 64, "app@sha256:" + "a" * 64, None),
        ("busybox", "busybox", None),
    ],
)
def test_split_image(image: str, name: str, tag: str | None) -> None:
    assert split_image(image) == (name, tag)


def _apply(doc: Any, ops: list[dict[str, Any]]) -> Any:
    """A minimal RFC 6902 applier (add / remove / replace), enough to check `json_patch`."""
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        if not parts:
            doc = op["value"]
            continue
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last: Any = int(parts[-1]) if isinstance(parent, list) else parts[-1]
        if op["op"] == "remove":
            del parent[last]
        else:
            parent[last] = op["value"]
    return doc


_JSON = st.recursive(
    st.none() | st.integers(-3, 3) | st.sampled_from(["a", "b/c", "~x"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["k", "a/b", "~", "z"]), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(_JSON, _JSON)
def test_json_patch_turns_old_into_new(old: Any, new: Any) -> None:
    ops = json_patch(old, new)
    assert _apply(old, ops) == new
    assert (ops == []) == (old == new)
