"""The YAML writer: what it writes reads back as the same data, in YAML 1.1 (Go) and 1.2 readers alike."""

from __future__ import annotations

import io
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from tiation.render.yamlout import dump, scalar


def _load(text: str, *, yaml_11: bool) -> Any:
    # A `%YAML 1.1` directive makes ruamel resolve plain scalars as Go's yaml.v2 does (yes/on/off are bools).
    return YAML(typ="safe", pure=True).load(io.StringIO(("%YAML 1.1\n---\n" if yaml_11 else "") + text))


def test_a_document_reads_back_in_order() -> None:
    data = {
        "groups": [
            {
                "name": "system-health",
                "rules": [
                    {
                        "alert": "HighCPUUsage",
                        "expr": "sum(rate(x[5m]))\n  / sum(rate(y[5m])) > 0.05",
                        "for": "5m",
                        "labels": {"severity": "warning", "on": "yes"},
                        "annotations": {},
                    }
                ],
            }
        ],
        "empty": [],
        "flags": [True, False, None, 0, 12],
        "nested": [["a", "b"], []],
    }
    text = dump(data, header="Generated\nsecond line")
    assert text.startswith("# Generated\n# second line\ngroups:\n  - name: system-health\n")
    assert "    expr: |-\n          sum(rate(x[5m]))\n            / sum(rate(y[5m])) > 0.05\n" in text
    for yaml_11 in (True, False):
        loaded = _load(text, yaml_11=yaml_11)
        assert loaded == data
        assert list(loaded["groups"][0]["rules"][0]) == ["alert", "expr", "for", "labels", "annotations"]


def test_words_that_yaml_1_1_would_change_are_quoted() -> None:
    for word in (
        "on",
        "Off",
        "yes",
        "NO",
        "y",
        "true",
        "null",
        "~",
        "1e3",
        "0x1F",
        "1:30",
        "012",
        ".inf",
        "...",
    ):
        assert scalar(word).startswith('"'), word
    for word in ("5m", "1h30m", "warning", "cpu_usage_percent > 80", "High CPU usage detected", "Bearer"):
        assert scalar(word) == word


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(value=_TEXT, key=_TEXT.filter(bool))
def test_any_string_reads_back_as_itself(value: str, key: str) -> None:
    data = {key: value, "list": [value], "map": {key: value}}
    text = dump(data)
    for yaml_11 in (True, False):
        assert _load(text, yaml_11=yaml_11) == data


@given(lines=st.lists(st.one_of(st.text("ab {}\t#:-|>'\"", max_size=12), _TEXT), min_size=2, max_size=5))
def test_multi_line_strings_read_back_as_themselves(lines: list[str]) -> None:
    data = {"expr": "\n".join(lines)}
    for yaml_11 in (True, False):
        assert _load(dump(data), yaml_11=yaml_11) == data


def test_same_data_same_bytes() -> None:
    data = {"b": {"y": "1", "x": ["p", "q"]}, "a": "z"}
    assert dump(data) == dump({"b": {"y": "1", "x": ["p", "q"]}, "a": "z"})
    assert dump(data).index("b:") < dump(data).index("a:")  # the caller's order, not sorted
