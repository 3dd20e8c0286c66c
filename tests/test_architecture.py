"""Rules the layout keeps, read from the source with `ast` (nothing is imported):

- python-osc and mido (and python-rtmidi) only under installation/control/;
- pygame only in installation/render/display.py;
- nothing imports cli.py or app.py but the entry points (__main__.py, cli.py, the kiosk's
  show process kiosk/child.py, and the benchmarks, which drive the real show as
  `installation run` does);
- no import circles among the package's modules, counting imports inside functions
  (they hide circles, they do not remove them) but not `if TYPE_CHECKING:` ones;
- installation/web/ (the HTTP server OSCQuery and the health endpoint share) imports
  nothing else of the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "installation"
PROTOCOL_LIBRARIES = ("pythonosc", "mido", "rtmidi")
ENTRY_POINTS = {"installation.__main__", "installation.cli", "installation.kiosk.child"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(path: Path, module: str) -> set[str]:
    """Every module `path` imports at run time (absolute names; `from a import b` gives a and a.b)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and not _type_checking_only(node, parents):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not _type_checking_only(node, parents):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def package_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for m in imports_of(path, name) if m in modules and m != name}
    return graph


def all_imports() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p, module_name(p)) for p in PACKAGE.rglob("*.py")}


def top(name: str) -> str:
    return name.split(".")[0]


def test_protocol_libraries_only_under_control() -> None:
    offenders = sorted(
        f"{mod} imports {imp}"
        for mod, imps in all_imports().items()
        for imp in imps
        if top(imp) in PROTOCOL_LIBRARIES and not mod.startswith("installation.control.")
    )
    assert offenders == []


def test_pygame_only_in_the_display() -> None:
    offenders = sorted(
        f"{mod} imports {imp}"
        for mod, imps in all_imports().items()
        for imp in imps
        if top(imp) == "pygame" and mod != "installation.render.display"
    )
    assert offenders == []


def test_only_the_entry_points_import_cli_and_app() -> None:
    offenders = sorted(
        f"{mod} imports {imp}"
        for mod, imps in package_graph().items()
        for imp in imps
        if imp in ("installation.cli", "installation.app")
        and mod not in ENTRY_POINTS
        and not mod.startswith("installation.benchmarks.")
    )
    assert offenders == []


def test_the_shared_http_server_depends_on_nothing_of_the_show() -> None:
    offenders = sorted(
        f"{mod} imports {imp}"
        for mod, imps in package_graph().items()
        if mod.startswith("installation.web")
        for imp in imps
        if not imp.startswith("installation.web")
    )
    assert offenders == []


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None (depth-first search, iterative)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_no_import_circles() -> None:
    graph = package_graph()
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


@pytest.mark.parametrize(
    "graph,circle",
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
        ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, False),
    ],
)
def test_the_circle_finder_finds_circles(graph, circle) -> None:
    assert (find_cycle(graph) is not None) is circle


def test_the_import_reader_sees_hidden_and_skips_type_checking_imports(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import pygame\n"
        "def f():\n    import mido\n    from . import sibling\n",
        encoding="utf-8",
    )
    found = imports_of(source, "installation.pkg.mod")
    assert "mido" in found and "installation.pkg.sibling" in found
    assert "pygame" not in found
