"""The package's imports point one way: data -> backends -> agents -> loop -> build -> runs -> views.

Every import counts, top-level, inside a function or under TYPE_CHECKING: a lazy import dodges the import
error, not the dependency. A failure names the offending import (file, line, target) and the two layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "roleplay"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("data", ("roleplay._aio", "roleplay._atomic", "roleplay._checked", "roleplay._field_hints", "roleplay._ids",
              "roleplay._txt",
              "roleplay._yaml", "roleplay.defaults", "roleplay.dialog", "roleplay.errors", "roleplay.personas.clinic",
              "roleplay.personas._loading", "roleplay.personas._model", "roleplay.personas._rules", "roleplay.prices",
              "roleplay.prompts", "roleplay.resources", "roleplay.sentences", "roleplay._speakers", "roleplay.text",
              "roleplay.usage", "roleplay.variants")),
    ("backends", ("roleplay.backends", "roleplay.structured")),
    ("agents", ("roleplay.agents", "roleplay.guards", "roleplay.memory", "roleplay.personas")),
    ("loop", ("roleplay.conditions", "roleplay.orchestrator", "roleplay.policy")),
    ("build", ("roleplay._generator_parts", "roleplay._scenario_parts", "roleplay.datasets",
               "roleplay._dialog_generator", "roleplay.generators", "roleplay._human_play", "roleplay.scenario")),
    ("runs", ("roleplay.datasets.star.generate", "roleplay.ray", "roleplay.runs")),
    ("views", ("roleplay", "roleplay.__main__", "roleplay.cli", "roleplay.evaluation", "roleplay.intent_chat",
               "roleplay.interop", "roleplay.viz")),
]
"""Each module's layer, by the longest prefix that names it. The personas that a model fills in (``context``,
``sampling``) sit above the backends, the plain persona classes below; a STAR generation and the intent-chat
pipeline run batches; ``roleplay`` itself (the public API) sits with the views."""

ALLOWED = {("roleplay.dialog", "roleplay.viz.transcript")}
"""``Dialog._repr_html_`` shows a dialogue in a notebook with the transcript view, imported when first shown."""


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str], root: Path = PACKAGE) -> list[tuple[str, int]]:
    """The package's modules that ``path`` imports, with the line of each import (the cycle tool's rules)."""
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            subs = [f"{base}.{alias.name}" for alias in node.names]
            # 'from pkg import sub' imports the module pkg.sub; 'from pkg import name' imports pkg itself
            names = [s for s in subs if s in modules] + ([base] if any(s not in modules for s in subs) else [])
        for name in names:
            parts = name.split(".")
            target = next((".".join(parts[:cut]) for cut in range(len(parts), 0, -1)
                           if ".".join(parts[:cut]) in modules), None)
            if target and target != me:
                found.add((target, node.lineno))
    return sorted(found, key=lambda edge: (edge[1], edge[0]))


def graph() -> dict[str, list[tuple[str, int]]]:
    files = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    return {m: imports_of(p, set(files)) for m, p in files.items()}


def layer_of(module: str) -> int:
    matches = [(len(prefix), rank) for rank, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
               if module == prefix or module.startswith(prefix + ".")]
    assert matches, f"{module} is in no layer: add it to LAYERS in {Path(__file__).name}"
    return max(matches)[1]


def cycles(edges: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), the allowed imports left out."""
    graph_ = {m: {t for t, _ in e if (m, t) not in ALLOWED} for m, e in edges.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph_[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while (w := stack.pop()) != v:
                group.append(w)
            groups.append(sorted([*group, v]))

    for v in graph_:
        if v not in index:
            visit(v)
    return [g for g in groups if len(g) > 1]


def test_the_package_has_no_import_cycles():
    edges = graph()
    found = cycles(edges)
    ties = [f"{m} -> {t} (line {line})" for group in found for m in group for t, line in edges[m] if t in group]
    assert not found, "import cycles:\n  " + "\n  ".join(ties)


def test_every_import_points_down_the_layers():
    names = [name for name, _ in LAYERS]
    wrong = [f"{m} ({names[layer_of(m)]}) imports {t} ({names[layer_of(t)]}) at line {line}"
             for m, edges in graph().items() for t, line in edges
             if (m, t) not in ALLOWED and layer_of(t) > layer_of(m)]
    assert not wrong, "imports that point up the layers:\n  " + "\n  ".join(wrong)


def test_the_check_sees_lazy_and_relative_imports_that_point_up(tmp_path):
    package = tmp_path / "roleplay"
    package.mkdir()
    module = package / "dialog.py"
    module.write_text("def f():\n    from roleplay.cli import main\n\n\ndef g():\n    from .viz import report\n")
    modules = {"roleplay.cli", "roleplay.viz", "roleplay.viz.report", "roleplay.dialog"}
    assert imports_of(module, modules, package) == [("roleplay.cli", 2), ("roleplay.viz.report", 6)]
    assert layer_of("roleplay.cli") > layer_of("roleplay.dialog")


def test_a_cycle_is_found_and_the_allowed_import_is_not_one():
    assert cycles({"a": [("b", 1)], "b": [("a", 1)], "c": []}) == [["a", "b"]]
    assert cycles({"roleplay.dialog": [("roleplay.viz.transcript", 1)],
                   "roleplay.viz.transcript": [("roleplay.dialog", 1)]}) == []
