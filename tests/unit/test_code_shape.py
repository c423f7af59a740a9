"""The shape the architecture promises, checked on the source tree itself."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "tiation"
MAX_FUNCTION_LINES = 60


def long_functions(root: Path) -> list[str]:
    """Every function (nested ones too) longer than the limit under `root`, Alembic migrations excepted."""
    long: list[str] = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({lines} lines)")
    return long


def test_no_function_in_src_is_longer_than_sixty_lines() -> None:
    assert long_functions(SRC) == []


def test_a_long_nested_function_is_reported_and_migrations_are_not(tmp_path: Path) -> None:
    body = "\n".join(f"        x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "mod.py").write_text(f"def outer():\n    def inner():\n{body}\n    return inner\n")
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001.py").write_text(f"def upgrade():\n{body}\n")
    assert long_functions(tmp_path) == [
        f"mod.py:1 outer ({MAX_FUNCTION_LINES + 3} lines)",
        f"mod.py:2 inner ({MAX_FUNCTION_LINES + 1} lines)",
    ]
