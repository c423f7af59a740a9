"""Which platform file is used: -f, then $TIATION_FILE, then ./tiation.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiation.config.loader import find_platform_file
from tiation.errors import ConfigError


@pytest.fixture
def files(tmp_path: Path) -> Path:
    for name in ("tiation.yaml", "explicit.yaml", "from-env.yaml"):
        (tmp_path / name).write_text("project: {name: x}\n", encoding="utf-8")
    return tmp_path


def test_explicit_path_wins_over_env_and_default(files: Path) -> None:
    found = find_platform_file("explicit.yaml", environ={"TIATION_FILE": "from-env.yaml"}, cwd=files)
    assert found == files / "explicit.yaml"


def test_env_var_wins_over_default(files: Path) -> None:
    assert (
        find_platform_file(None, environ={"TIATION_FILE": "from-env.yaml"}, cwd=files)
        == files / "from-env.yaml"
    )


def test_default_is_tiation_yaml_in_cwd(files: Path) -> None:
    assert find_platform_file(None, environ={}, cwd=files) == files / "tiation.yaml"


def test_empty_env_var_is_ignored(files: Path) -> None:
    assert find_platform_file(None, environ={"TIATION_FILE": ""}, cwd=files) == files / "tiation.yaml"


def test_absolute_paths_ignore_cwd(files: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = tmp_path_factory.mktemp("other")
    assert find_platform_file(str(files / "explicit.yaml"), environ={}, cwd=other) == files / "explicit.yaml"


def test_without_cwd_a_relative_path_stays_as_written(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(files)
    assert find_platform_file(None, environ={}) == Path("tiation.yaml")


def test_process_environment_is_the_default(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIATION_FILE", "from-env.yaml")
    assert find_platform_file(None, cwd=files) == files / "from-env.yaml"


def test_missing_explicit_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        find_platform_file("nope.yaml", environ={"TIATION_FILE": "x.yaml"}, cwd=tmp_path)
    assert str(caught.value) == f"platform file '{tmp_path / 'nope.yaml'}' does not exist"


def test_missing_env_file_says_where_the_path_came_from(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        find_platform_file(None, environ={"TIATION_FILE": "x.yaml"}, cwd=tmp_path)
    assert str(caught.value) == f"platform file '{tmp_path / 'x.yaml'}' (from TIATION_FILE) does not exist"


def test_missing_default_file_hints_at_the_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        find_platform_file(None, environ={}, cwd=tmp_path)
    assert str(caught.value) == (
        f"no platform file: '{tmp_path / 'tiation.yaml'}' does not exist "
        "(hint: use -f FILE or set TIATION_FILE)"
    )


def test_directory_is_not_a_platform_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    with pytest.raises(ConfigError) as caught:
        find_platform_file("conf", environ={}, cwd=tmp_path)
    assert str(caught.value) == f"platform file '{tmp_path / 'conf'}' is a directory, not a file"
