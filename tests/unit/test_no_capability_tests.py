"""Product code asks targets (and backup sources) for their abilities; it never tests a type or a kind string.

A parse of every module under src/ fails on:
- an import of the shipped fake target (`tiation.targets.fake`) outside that module, or `isinstance(…, FakeTarget)`;
- `getattr(target, …)` / `hasattr(target, …)` (an ability reached around the type; mypy sees it as Any);
- a comparison of a kind with a target kind string (`target.kind == "kubernetes"`, `env.target in ("compose", …)`)
  in deploy/, config/checks.py, cli/ and server/;
- (backup sources) a comparison of a kind with a backup source kind string (`kind == "sqlite"`) in backup/
  (outside the sources themselves), cli/ and server/.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).parents[2] / "src" / "tiation"
FAKE_MODULE = SRC / "targets" / "fake.py"
TARGET_KINDS = frozenset({"local", "fake", "kubernetes", "compose"})
BACKUP_SOURCE_KINDS = frozenset({"sqlite", "postgres", "files"})


def _modules(*parts: str) -> Iterator[tuple[Path, ast.Module]]:
    for part in parts:
        root = SRC / part
        paths = [root] if root.suffix == ".py" else sorted(root.rglob("*.py"))
        for path in paths:
            yield path, ast.parse(path.read_text(), filename=str(path))


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(SRC.parent)}:{getattr(node, 'lineno', 0)}: {ast.unparse(node)[:100]}"


def _is_target(node: ast.expr) -> bool:
    """`target`, `self.target`, `something.target`."""
    if isinstance(node, ast.Name):
        return node.id == "target"
    return isinstance(node, ast.Attribute) and node.attr == "target"


def _kindish(node: ast.expr) -> bool:
    """An expression naming a kind: `kind`, `x.kind`, `env.target`, `x.target`."""
    if isinstance(node, ast.Name):
        return node.id in ("kind", "target", "target_kind")
    return isinstance(node, ast.Attribute) and node.attr in ("kind", "target")


def _strings(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


def kind_comparisons(tree: ast.Module, kinds: frozenset[str]) -> Iterator[ast.Compare]:
    """Comparisons of a kind-naming expression with one of `kinds` (==, !=, in, not in)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        if any(_kindish(s) for s in sides) and any(_strings(s) & kinds for s in sides):
            yield node


def test_finders_catch_what_they_are_for() -> None:
    # The checks below must be able to fail: each finder sees the shape it forbids.
    sample = ast.parse(
        "if target.kind == 'kubernetes': pass\n"
        "x = env.target in ('kubernetes', 'compose')\n"
        "y = kind == 'sqlite'\n"
        "z = getattr(target, 'precheck', None)\n"
    )
    assert len(list(kind_comparisons(sample, TARGET_KINDS))) == 2
    assert len(list(kind_comparisons(sample, BACKUP_SOURCE_KINDS))) == 1
    calls = [n for n in ast.walk(sample) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert any(
        c.func.id == "getattr" and _is_target(c.args[0]) for c in calls if isinstance(c.func, ast.Name)
    )


def test_no_product_module_imports_or_recognises_the_fake_target() -> None:
    found = []
    for path, tree in _modules("."):
        if path == FAKE_MODULE:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = {f"{node.module}.{a.name}" for a in node.names} | {node.module or ""}
                if any(n == "tiation.targets.fake" or n.startswith("tiation.targets.fake.") for n in names):
                    found.append(_where(path, node))
            elif isinstance(node, ast.Import):
                if any(a.name.startswith("tiation.targets.fake") for a in node.names):
                    found.append(_where(path, node))
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "isinstance"
            ) and any("FakeTarget" in ast.unparse(arg) for arg in node.args[1:]):
                found.append(_where(path, node))
    assert found == []


def test_no_ability_is_reached_with_getattr_or_hasattr_on_a_target() -> None:
    found = [
        _where(path, node)
        for path, tree in _modules(".")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "hasattr")
        and node.args
        and _is_target(node.args[0])
    ]
    assert found == []


def test_no_target_kind_strings_are_tested() -> None:
    found = [
        _where(path, node)
        for path, tree in _modules("deploy", "config/checks.py", "cli", "server")
        for node in kind_comparisons(tree, TARGET_KINDS)
    ]
    assert found == []


def test_no_backup_source_kind_chains() -> None:
    found = [
        _where(path, node)
        for path, tree in _modules("backup", "cli", "server")
        if SRC / "backup" / "sources" not in path.parents
        for node in kind_comparisons(tree, BACKUP_SOURCE_KINDS)
    ]
    assert found == []
