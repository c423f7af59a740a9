"""Reading simple comparisons out of `expr`, and values at and past their thresholds."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiation.render.promql import Comparison, NotSimple, parse_comparison, regex_example


@pytest.mark.parametrize(
    ("expr", "series", "op", "threshold"),
    [
        ("cpu_usage_percent > 80", "cpu_usage_percent", ">", "80"),
        ("  memory_usage_percent>85\n", "memory_usage_percent", ">", "85"),
        ("disk_free_percent < 20", "disk_free_percent", "<", "20"),
        ("active_users <= 1e2", "active_users", "<=", "1e2"),
        ("up == 0", "up", "==", "0"),
        ("x != -2.5", "x", "!=", "-2.5"),
        ("job:lat:p99 >= .5", "job:lat:p99", ">=", ".5"),
        ('http_requests_total{status="500"} > 3', 'http_requests_total{status="500"}', ">", "3"),
        ('m{status=~"5.."} > 1', 'm{status="500"}', ">", "1"),
        ("m{a=~'x|y', b!=\"z\"} > 1", 'm{a="x"}', ">", "1"),
        ('m{a!~"prod.*"} > 1', "m", ">", "1"),
        ('m{a!=""} > 1', 'm{a="tiation"}', ">", "1"),
        ('m{a=""} > 1', "m", ">", "1"),
        ('{__name__="m", env="prod"} > 1', 'm{env="prod"}', ">", "1"),
        ('m{path="/a\\"b\\\\c"} > 1', 'm{path="/a\\"b\\\\c"}', ">", "1"),
        ('m{a=~"(foo|bar)-[0-9]+"} > 1', 'm{a="foo-0"}', ">", "1"),
        ('m{a=~"v\\\\d{2}"} > 1', 'm{a="v00"}', ">", "1"),
        ("m{a=`x\\y`} > 1", 'm{a="x\\\\y"}', ">", "1"),
    ],
)
def test_simple_comparisons_are_read(expr: str, series: str, op: str, threshold: str) -> None:
    comparison = parse_comparison(expr)
    assert comparison.series() == series
    assert comparison.op == op
    assert comparison.threshold == Decimal(threshold)


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ('http_requests_total{status=~"5.."}', "not '<selector> <op> <number>'"),
        ("rate(x[5m]) > 1", "not '<selector> <op> <number>'"),
        ("sum(x) / sum(y) > 0.05", "not '<selector> <op> <number>'"),
        ("x > bool 1", "not '<selector> <op> <number>'"),
        ("x offset 5m > 1", "not '<selector> <op> <number>'"),
        ("1 < x", "not '<selector> <op> <number>'"),
        ("x > y", "not '<selector> <op> <number>'"),
        ('x{a="1"} > 1 and y{b="2"} > 2', "separated by commas"),
        ('{env="prod"} > 1', "no metric name"),
        ('{__name__=~"m.*"} > 1', "plain __name__"),
        ('x{a="1", a="2"} > 1', "cannot find a value for label 'a'"),
        ('x{a=~"[^a]"} > 1', "cannot find a value for label 'a'"),
        ('x{a="\\x41"} > 1', "escape"),
        ("x{a=b} > 1", "quoted string"),
        ('x{a=~"(?P<n>a)"} > 1', "cannot find a value"),
    ],
)
def test_other_expressions_are_not_simple(expr: str, why: str) -> None:
    with pytest.raises(NotSimple, match=re.escape(why)):
        parse_comparison(expr)


@pytest.mark.parametrize(
    ("expr", "quiet", "firing"),
    [
        ("x > 80", "80", "88"),
        ("x >= 80", "72", "80"),
        ("x < 20", "20", "18"),
        ("x <= 20", "22", "20"),
        ("x == 0", "1", "0"),
        ("x != 1", "1", "1.1"),
        ("x > 0.05", "0.05", "0.055"),
        ("x < -5", "-5", "-5.5"),
    ],
)
def test_the_boundary_is_the_quiet_side_at_the_threshold(expr: str, quiet: str, firing: str) -> None:
    assert parse_comparison(expr).boundary() == (Decimal(quiet), Decimal(firing))


_OPS = st.sampled_from([">", ">=", "<", "<=", "==", "!="])
_THRESHOLDS = st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, places=4)


@given(op=_OPS, threshold=_THRESHOLDS)
def test_the_quiet_value_never_fires_and_the_firing_value_always_does(op: str, threshold: Decimal) -> None:
    comparison = Comparison(metric="m", series_labels={}, op=op, threshold=threshold)
    quiet, firing = comparison.boundary()
    assert not comparison.fires(quiet)
    assert comparison.fires(firing)
    # and as the floats Prometheus compares (the threshold is written in the same decimal notation)
    compare = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}
    if op in compare:
        assert not compare[op](float(quiet), float(threshold))
        assert compare[op](float(firing), float(threshold))


@pytest.mark.parametrize(
    "pattern",
    [
        "5..",
        "a|b",
        "(GET|POST)",
        "x[0-9]{3}",
        "prod-.*",
        "a+b?c*",
        "\\.well-known",
        "v\\d+",
        "(?:a|b)c",
        "foo",
    ],
)
def test_regex_examples_fully_match(pattern: str) -> None:
    example = regex_example(pattern)
    assert example is not None
    assert re.fullmatch(pattern, example)


@pytest.mark.parametrize("pattern", ["[^a]", "(a)*b", "\\bword", "a{,3}b{x"])
def test_regex_examples_give_up_rather_than_guess(pattern: str) -> None:
    assert regex_example(pattern) is None
