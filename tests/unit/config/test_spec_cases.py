"""Platform-file mistakes as data: tests/spec/config/cases/*.yaml, expected errors in cases.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tiation.config.loader import load_platform
from tiation.errors import ConfigError

SPEC = Path(__file__).parents[2] / "spec" / "config"
CASES: dict[str, str] = YAML(typ="safe").load((SPEC / "cases.yaml").read_text(encoding="utf-8"))


def test_every_case_file_has_an_expectation() -> None:
    assert sorted(p.name for p in (SPEC / "cases").glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_gives_its_one_line_error(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SPEC / "cases")
    with pytest.raises(ConfigError) as caught:
        load_platform(Path(name))
    message = str(caught.value)
    assert message == CASES[name]
    assert caught.value.file == name
    assert "hunter2" not in message  # literal secrets in the case files never reach a message
