"""Predicting Prometheus's expansion of `{{ $value }}` and `{{ $labels.x }}` for generated tests."""

from __future__ import annotations

import pytest

from tiation.render.templates import Unpredictable, expand, go_float


# What promtool 2.42 printed for `{{ $value }}` with these sample values (checked by hand, and by the
# integration tests through real promtool).
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1000000.0, "1e+06"),
        (123456.5, "123456.5"),
        (0.00001, "1e-05"),
        (0.055, "0.055"),
        (1e21, "1e+21"),
        (2.2, "2.2"),
        (100000.0, "100000"),
        (1234567.0, "1.234567e+06"),
        (88.0, "88"),
        (-0.5, "-0.5"),
        (0.0001, "0.0001"),
        (999999.0, "999999"),
        (0.0, "0"),
        (float("inf"), "+Inf"),
        (float("nan"), "NaN"),
    ],
)
def test_values_print_as_go_prints_a_float64(value: float, text: str) -> None:
    assert go_float(value) == text


def test_plain_actions_expand() -> None:
    labels = {"instance": "db-1:9100", "__name__": "cpu"}
    text = "{{ $labels.instance }} at {{$value}}% ({{ .Labels.instance }}, {{ .Value }}){{ $labels.none }}"
    assert expand(text, labels, 91.5) == "db-1:9100 at 91.5% (db-1:9100, 91.5)"
    assert expand("{{ $externalLabels.cluster }}{{ $externalURL }}", labels, 1) == ""
    assert expand("no templates", labels, 1) == "no templates"


@pytest.mark.parametrize(
    "text",
    [
        "{{ $value | humanize }}",
        '{{ printf "%.2f" $value }}',
        "{{ if gt $value 1.0 }}big{{ end }}",
        "{{- $value }}",
        "{{ $value -}}",
        "{{ $value }",
        '{{ index $labels "a" }}',
    ],
)
def test_anything_more_is_unpredictable(text: str) -> None:
    with pytest.raises(Unpredictable):
        expand(text, {}, 1.0)
