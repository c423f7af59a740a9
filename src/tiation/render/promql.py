"""Reading a rule's `expr` when it is a simple comparison, to derive a test from its threshold.

Simple means `<selector> <op> <number>`: a metric name with optional label matchers (`=`, `!=`, `=~`, `!~`),
one of `>`, `>=`, `<`, `<=`, `==`, `!=`, and a decimal number. For such an expression tiation can write a series
that the selector matches and give it values at and past the threshold. Anything else (functions, arithmetic,
`bool`, `offset`, a number on the left) is not simple: `parse_comparison` says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

_COMPARISON = re.compile(
    r"^\s*(?P<selector>[a-zA-Z_:][a-zA-Z0-9_:]*\s*(?:\{.*\})?|\{.*\})\s*"
    r"(?P<op>>=|<=|==|!=|>|<)\s*"
    r"(?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$",
    re.DOTALL,
)
_MATCHER = re.compile(r"\s*(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r", "`": "`"}
_TRY_VALUES = ("", "tiation", "x")


class NotSimple(ValueError):
    """The expression is not a simple comparison; the message says what stands in the way."""


@dataclass(frozen=True)
class Matcher:
    """One label matcher of a selector."""

    name: str
    op: str
    value: str

    def accepts(self, value: str) -> bool:
        """Whether a series whose label has `value` (empty: absent) is selected."""
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        try:
            found = re.fullmatch(self.value, value) is not None
        except re.error as exc:
            raise NotSimple(f"the regular expression {self.value!r} is not one Python reads: {exc}") from None
        return found if self.op == "=~" else not found


@dataclass(frozen=True)
class Comparison:
    """`selector op threshold`, with the series labels that the selector matches."""

    metric: str
    series_labels: dict[str, str]
    op: str
    threshold: Decimal

    def fires(self, value: Decimal) -> bool:
        """Whether the comparison keeps a sample of `value` (the alert condition holds)."""
        t = self.threshold
        return {
            ">": value > t,
            ">=": value >= t,
            "<": value < t,
            "<=": value <= t,
            "==": value == t,
            "!=": value != t,
        }[self.op]

    def boundary(self) -> tuple[Decimal, Decimal]:
        """(quiet, firing): the value nearest the threshold that must not fire, and one that must."""
        t = self.threshold
        step = abs(t) / 10 if t else Decimal(1)
        above, below = t + step, t - step
        quiet, firing = {
            ">": (t, above),
            ">=": (below, t),
            "<": (t, below),
            "<=": (above, t),
            "==": (above, t),
            "!=": (t, above),
        }[self.op]
        assert not self.fires(quiet) and self.fires(firing)
        return quiet, firing

    def series(self) -> str:
        """The input series in promtool's notation, e.g. `cpu{host="a"}`."""
        if not self.series_labels:
            return self.metric
        inner = ", ".join(f'{k}="{_quote(v)}"' for k, v in sorted(self.series_labels.items()))
        return f"{self.metric}{{{inner}}}"


def parse_comparison(expr: str) -> Comparison:
    """The comparison in `expr`; raises NotSimple when it is not `<selector> <op> <number>`."""
    found = _COMPARISON.match(expr)
    if found is None:
        raise NotSimple("expr is not '<selector> <op> <number>'")
    selector = found.group("selector").strip()
    brace = selector.find("{")
    metric = (selector if brace < 0 else selector[:brace]).strip()
    matchers = _parse_matchers(selector[brace + 1 : -1]) if brace >= 0 else []
    named = [m for m in matchers if m.name == "__name__"]
    if named:
        if metric or len(named) != 1 or named[0].op != "=":
            raise NotSimple("the metric name is not one plain __name__ match")
        metric = named[0].value
        matchers = [m for m in matchers if m.name != "__name__"]
    if not metric:
        raise NotSimple("the selector has no metric name")
    return Comparison(
        metric=metric,
        series_labels=_matching_labels(matchers),
        op=found.group("op"),
        threshold=Decimal(found.group("number")),
    )


def _parse_matchers(text: str) -> list[Matcher]:
    out: list[Matcher] = []
    pos = 0
    while text[pos:].strip():
        head = _MATCHER.match(text, pos)
        if head is None:
            raise NotSimple("the selector's label matchers are not plain 'name op \"value\"'")
        value, pos = _string_literal(text, head.end())
        out.append(Matcher(head.group("name"), head.group("op"), value))
        rest = text[pos:].lstrip()
        if rest.startswith(","):
            pos = len(text) - len(rest) + 1
        elif rest:
            raise NotSimple("the selector's label matchers are not separated by commas")
    return out


def _string_literal(text: str, pos: int) -> tuple[str, int]:
    """A PromQL string literal at `pos` (double, single or back quotes): (value, position after it)."""
    if pos >= len(text) or text[pos] not in "\"'`":
        raise NotSimple("a label matcher's value is not a quoted string")
    quote, i = text[pos], pos + 1
    out: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\" and quote != "`":
            nxt = text[i + 1 : i + 2]
            if nxt not in _ESCAPES:
                raise NotSimple(f"the escape \\{nxt} in a label value is not supported")
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise NotSimple("a label matcher's value is not closed")


def _matching_labels(matchers: list[Matcher]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for name in dict.fromkeys(m.name for m in matchers):
        mine = [m for m in matchers if m.name == name]
        candidates = [_example(m) for m in mine if m.op in ("=", "=~")] or list(_TRY_VALUES)
        chosen = next((c for c in candidates if c is not None and all(m.accepts(c) for m in mine)), None)
        if chosen is None:
            raise NotSimple(f"cannot find a value for label {name!r} that its matchers select")
        if chosen:
            labels[name] = chosen
    return labels


def _example(matcher: Matcher) -> str | None:
    if matcher.op == "=":
        return matcher.value
    try:
        re.compile(matcher.value)
    except re.error:
        return None
    return regex_example(matcher.value)


def regex_example(pattern: str) -> str | None:
    """A string that `pattern` fully matches, for simple patterns (literals, `.`, classes, `|`, groups,
    quantifiers); None when this little generator cannot tell."""
    candidate = _generate(pattern)
    if candidate is not None and re.fullmatch(pattern, candidate):
        return candidate
    return None


def _generate(pattern: str) -> str | None:
    # Take the first alternative of every `|`, zero of `*`/`?`, the minimum of `{n,m}`, one of `+`.
    out: list[str] = []
    i, depth = 0, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "|":
            if depth == 0:
                return "".join(out)
            close = _group_end(pattern, i)
            if close is None:
                return None
            i = close
            continue
        if ch in "()":
            depth += 1 if ch == "(" else -1
            if pattern.startswith("(?", i) and not pattern.startswith("(?:", i):
                return None
            i += 3 if pattern.startswith("(?:", i) else 1
            continue
        atom, i = _atom(pattern, i)
        if atom is None:
            return None
        count, i = _quantifier(pattern, i)
        out.append(atom * count)
    return "".join(out)


def _group_end(pattern: str, i: int) -> int | None:
    """The index of the `)` closing the group that the `|` at `i` is in."""
    depth = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return None


def _atom(pattern: str, i: int) -> tuple[str | None, int]:
    ch = pattern[i]
    if ch == "\\":
        nxt = pattern[i + 1 : i + 2]
        special = {"d": "0", "w": "a", "s": " ", "D": "a", "W": "-", "S": "a"}
        if nxt in special:
            return special[nxt], i + 2
        return (nxt, i + 2) if nxt and not nxt.isalnum() else (None, i + 2)
    if ch == ".":
        return "0", i + 1
    if ch == "[":
        end = pattern.find("]", i + 2)
        if end < 0 or pattern[i + 1] == "^":
            return None, i + 1
        first = pattern[i + 1]
        return (first if first not in "\\[" else None), end + 1
    if ch in "*+?{}^$":
        return None, i + 1
    return ch, i + 1


def _quantifier(pattern: str, i: int) -> tuple[int, int]:
    if i >= len(pattern):
        return 1, i
    ch = pattern[i]
    if ch in "*?":
        return 0, i + 1
    if ch == "+":
        return 1, i + 1
    if ch == "{":
        end = pattern.find("}", i)
        low = pattern[i + 1 : end].split(",")[0] if end > 0 else ""
        if low.isdigit():
            return int(low), end + 1
    return 1, i


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
