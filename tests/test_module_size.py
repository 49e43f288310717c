"""Every module of the package stays small enough to read: at most 350 lines, and every function body at most
40 lines (its docstring not counted). A module past the limit is split by concept, not trimmed."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "roleplay"
MAX_MODULE_LINES = 350
MAX_BODY_LINES = 40


def body_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of ``function``'s body from its first statement after the docstring to its end."""
    body = function.body
    if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return (function.end_lineno or body[-1].end_lineno or 0) - body[0].lineno + 1


def long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}: {body_lines(node)} lines"
            for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and body_lines(node) > MAX_BODY_LINES]


def test_no_module_is_over_the_line_limit():
    long = [f"{p.relative_to(PACKAGE.parent)}: {n} lines" for p in sorted(PACKAGE.rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert not long, f"modules over {MAX_MODULE_LINES} lines:\n  " + "\n  ".join(long)


def test_no_function_body_is_over_the_line_limit():
    long = [line for p in sorted(PACKAGE.rglob("*.py")) for line in long_functions(p)]
    assert not long, f"function bodies over {MAX_BODY_LINES} lines:\n  " + "\n  ".join(long)


def test_the_docstring_is_not_counted(tmp_path):
    source = tmp_path / "m.py"
    source.write_text('def f():\n    """Doc\n\n    more.\n    """\n' + "    x = 1\n" * 41)
    assert [line.split(": ")[-1] for line in long_functions_at(source)] == ["41 lines"]
    source.write_text('def f():\n    """Doc\n\n    more.\n    """\n' + "    x = 1\n" * 40)
    assert long_functions_at(source) == []


def long_functions_at(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{node.name}: {body_lines(node)} lines" for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and body_lines(node) > MAX_BODY_LINES]
