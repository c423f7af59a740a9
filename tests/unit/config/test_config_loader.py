"""Loading the platform file: a valid file, secret references, positions and robustness."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from tiation.config.loader import load_platform
from tiation.errors import ConfigError
from tiation.secrets import SecretRef

VALID = Path(__file__).parents[2] / "spec" / "config" / "valid.yaml"

MINIMAL = """\
project:
  name: shop
environments:
  dev: {target: fake}
services:
  cms:
    port: 8080
"""


def _write(tmp_path: Path, text: str, name: str = "tiation.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_platform(path)
    return caught.value


def test_valid_full_example_loads() -> None:
    loaded = load_platform(VALID)
    platform = loaded.platform
    assert loaded.path == VALID
    assert platform.project.name == "shop"
    assert list(platform.services) == ["db-proxy", "cms", "web"]
    assert list(platform.environments) == ["dev", "staging", "prod"]
    cms = platform.services["cms"]
    assert cms.depends_on == ["db-proxy"]
    assert [p.label for p in cms.health.probes] == ["http /health", "migrations"]
    assert cms.health.probes[0].http is not None
    assert cms.health.probes[0].http.latency_budget == timedelta(milliseconds=500)
    assert cms.health.deadline == timedelta(minutes=1)
    assert platform.environments["prod"].approval_ttl == timedelta(hours=2)
    assert platform.service_in("prod", "cms").replicas == 3
    assert platform.service_in("staging", "web").port == 9080
    assert platform.objectives.tiers["standard"].rpo == timedelta(hours=1, minutes=30)


def test_secret_references_stay_references() -> None:
    platform = load_platform(VALID).platform
    env = platform.services["cms"].env
    assert isinstance(env["DATABASE_URL"], SecretRef)
    assert isinstance(env["ADMIN_TOKEN"], SecretRef)
    assert env["LOG_LEVEL"] == "info"
    assert str(env["DATABASE_URL"]) == "<secret>"
    assert isinstance(platform.state.url, SecretRef)
    assert platform.state.url.ref == "env:TIATION_STATE_URL"
    assert str(platform.state.url) == "<secret>"


def test_file_secret_resolves_relative_to_the_platform_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "secrets").mkdir(parents=True)
    shutil.copy(VALID, project / "tiation.yaml")
    (project / "secrets" / "admin_token").write_text("s3cr3t-token\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    loaded = load_platform(Path("../project/tiation.yaml"))

    assert loaded.root == project.resolve()
    token = loaded.platform.services["cms"].env["ADMIN_TOKEN"]
    assert isinstance(token, SecretRef)
    assert token.reveal() == "s3cr3t-token"


def test_override_secrets_resolve_relative_to_the_platform_file(tmp_path: Path) -> None:
    text = """\
project:
  name: shop
environments:
  dev:
    target: fake
    services:
      cms:
        env: {KEY: file:key}
services:
  cms:
    port: 8080
    env: {TOKEN: file:base-token}
"""
    (tmp_path / "key").write_text("override-key", encoding="utf-8")
    (tmp_path / "base-token").write_text("base-token-value", encoding="utf-8")

    platform = load_platform(_write(tmp_path, text)).platform

    override = platform.environments["dev"].services["cms"].env["KEY"]
    assert isinstance(override, SecretRef)
    assert override.reveal() == "override-key"
    merged = platform.service_in("dev", "cms").env
    assert isinstance(merged["TOKEN"], SecretRef)
    assert merged["TOKEN"].reveal() == "base-token-value"


def test_root_is_the_resolved_directory_of_a_relative_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, MINIMAL)
    monkeypatch.chdir(tmp_path)
    loaded = load_platform(Path("tiation.yaml"))
    assert loaded.path == Path("tiation.yaml")
    assert loaded.root == tmp_path.resolve()


def test_error_carries_file_line_column_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace("port: 8080", "port: abc"))
    err = _error(path)
    assert (err.file, err.line, err.column, err.field) == (str(path), 7, 11, "services.cms.port")
    assert err.exit_code == 2


def test_first_error_in_the_file_wins_over_validation_order(tmp_path: Path) -> None:
    # pydantic validates `project` first; the services mistake is written first, so it is the one reported.
    text = (
        "services:\n  cms:\n    port: abc\nenvironments:\n  dev: {target: fake}\nproject:\n  name: Bad_Name\n"
    )
    err = _error(_write(tmp_path, text))
    assert (err.line, err.column, err.field) == (3, 11, "services.cms.port")


def test_type_error_in_a_block_mapping_points_at_its_first_key(tmp_path: Path) -> None:
    text = MINIMAL + "    depends_on:\n      db: true\n"
    err = _error(_write(tmp_path, text))
    assert str(err).endswith("9:7: services.cms.depends_on: expected a list, got a mapping")


def test_null_value_points_at_its_key(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, MINIMAL.replace("port: 8080", "port:")))
    assert str(err).endswith("7:5: services.cms.port: expected an integer, got nothing")


def test_unknown_key_in_a_list_item_suggests_from_that_model(tmp_path: Path) -> None:
    text = MINIMAL + "    health:\n      probes:\n        - tcp: {}\n          intervall: 2s\n"
    err = _error(_write(tmp_path, text))
    assert str(err).endswith(
        "11:11: services.cms.health.probes[0].intervall: unknown key 'intervall' (did you mean 'interval'?)"
    )


def test_merge_keys_load(tmp_path: Path) -> None:
    text = MINIMAL.replace("services:\n", "x-common: &common {port: 8080}\nservices:\n")
    text = text.replace("    port: 8080\n", "    <<: *common\n")
    err = _error(_write(tmp_path, text))
    # `x-common` is not a platform key: proves the merged file was parsed, and the error has a position.
    assert str(err).endswith("5:1: x-common: unknown key 'x-common'")


def test_a_list_as_a_key_is_rejected(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, MINIMAL + "    env:\n      ? [a, b]\n      : x\n"))
    assert str(err).endswith("9:9: a key must be a single value, not a list or mapping")


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    err = _error(path)
    assert str(err) == f"{path}: cannot read the platform file: No such file or directory"


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "tiation.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_platform(path).platform.project.name == "shop"


def test_plain_env_value_that_looks_like_a_url_is_not_a_secret(tmp_path: Path) -> None:
    text = MINIMAL + "    env:\n      UPSTREAM: http://api.internal\n      DSN: env:DSN\n"
    env = load_platform(_write(tmp_path, text)).platform.services["cms"].env
    assert env["UPSTREAM"] == "http://api.internal"
    assert isinstance(env["DSN"], SecretRef)


@pytest.mark.parametrize("line", range(len(VALID.read_text(encoding="utf-8").splitlines())))
def test_any_line_removed_gives_a_config_error_or_loads(tmp_path: Path, line: int) -> None:
    lines = VALID.read_text(encoding="utf-8").splitlines()
    del lines[line]
    path = _write(tmp_path, "\n".join(lines) + "\n")
    try:
        loaded = load_platform(path)
    except ConfigError as err:
        assert "\n" not in str(err)
        assert err.line is not None
        assert str(err).startswith(f"{path}:{err.line}:")
    else:
        assert loaded.platform.project.name == "shop"


def test_alias_bomb_and_alias_cycle_are_one_line_errors(tmp_path: Path) -> None:
    bomb = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = tmp_path / "tiation.yaml"
    path.write_text("\n".join(bomb) + "\n")
    with pytest.raises(ConfigError, match="expands to more than 100,000 values"):
        load_platform(path)
    path.write_text("version: 1\nproject: &p {name: x, loop: *p}\n")
    with pytest.raises(ConfigError) as info:
        load_platform(path)
    assert "\n" not in str(info.value)
