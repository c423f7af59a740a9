"""Predicting what Prometheus makes of a rule's templated labels and annotations, for generated tests.

Only the plain forms are understood: `{{ $value }}`, `{{ .Value }}`, `{{ $labels.NAME }}`, `{{ .Labels.NAME }}`,
`{{ $externalLabels.NAME }}` / `{{ .ExternalLabels.NAME }}` (none in a promtool test) and `{{ $externalURL }}`.
Anything else (pipes, functions, conditionals, trim markers) cannot be predicted: `expand` says so and the
rule needs explicit `tests:`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal

_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_LABEL = re.compile(r"^(?:\$labels|\.Labels)\.([a-zA-Z_][a-zA-Z0-9_]*)$")
_EXTERNAL = re.compile(r"^(?:\$externalLabels|\.ExternalLabels)\.[a-zA-Z_][a-zA-Z0-9_]*$")


class Unpredictable(ValueError):
    """A template uses more than the plain forms; the message says which action."""


def expand(text: str, labels: Mapping[str, str], value: float) -> str:
    """`text` as Prometheus would expand it for an alert with `labels` and `value`; raises Unpredictable."""
    out: list[str] = []
    pos = 0
    for match in _ACTION.finditer(text):
        out.append(text[pos : match.start()])
        out.append(_action(match.group(1), labels, value))
        pos = match.end()
    rest = text[pos:]
    if "{{" in rest:
        raise Unpredictable(f"unclosed template action in {text!r}")
    out.append(rest)
    return "".join(out)


def _action(body: str, labels: Mapping[str, str], value: float) -> str:
    if body.startswith("-") or body.endswith("-"):
        raise Unpredictable(f"template action {{{{{body}}}}} trims spaces")
    inner = body.strip()
    if inner in ("$value", ".Value"):
        return go_float(value)
    if inner in ("$externalURL", ".ExternalURL") or _EXTERNAL.match(inner):
        return ""
    label = _LABEL.match(inner)
    if label:
        return labels.get(label.group(1), "")
    raise Unpredictable(f"template action {{{{{body}}}}} is more than a plain value or label")


def go_float(value: float) -> str:
    """A float64 as Go's `fmt.Sprint` writes it (what `{{ $value }}` prints): `88`, `0.055`, `1e+06`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    written = "".join(map(str, digit_tuple))
    point = len(written) + exponent  # where the decimal point goes, counted from the first digit
    digits = written.rstrip("0")
    minus = "-" if sign else ""
    exp = point - 1
    if exp < -4 or exp >= 6:  # Go's %g with the shortest precision switches to an exponent here
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{minus}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{minus}{digits}{'0' * (point - len(digits))}"
    return f"{minus}{digits[:point]}.{digits[point:]}"
