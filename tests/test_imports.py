"""The modules of `bot/` import each other in one direction: no circle, lazy imports included.

Why a scan of the source rather than importing: a circle hidden in a function-level import
only fails when that function first runs, in whatever order the modules happened to load; the
scan finds it whether or not a test reaches that line. Imports under `if TYPE_CHECKING:` are
left out, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PACKAGE = PROJECT / "bot"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(tree: ast.Module, module: str, is_package: bool, known: set[str]) -> set[str]:
    """Every `bot.*` module that `tree` imports when run, at any depth, relative ones resolved."""
    found: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in known else base)
        pending.extend(ast.iter_child_nodes(node))
    return {name for name in found if name in known and name != module}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {_module_name(path) for path in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        name = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = _imported(tree, name, path.name == "__init__.py", known)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports as [a, b, ..., a], or None (a depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph.get(name, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)):
            return cycle
    return None


def test_bot_has_no_import_circle() -> None:
    graph = import_graph()
    assert "bot.chat.commands" in graph and "bot.leads.team" in graph["bot.chat.commands"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_scan_finds_a_circle_hidden_in_a_function() -> None:
    """The scanner itself: a lazy import that closes a circle is found."""
    known = {"bot.a", "bot.b"}
    a = ast.parse("from bot import b\n")
    b = ast.parse("def f():\n    from bot.a import x\n    return x\n")
    skipped = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import bot.a\n")
    graph = {
        "bot.a": _imported(a, "bot.a", False, known),
        "bot.b": _imported(b, "bot.b", False, known),
    }
    assert find_cycle(graph) == ["bot.a", "bot.b", "bot.a"]
    assert _imported(skipped, "bot.b", False, known) == set()
