"""The layers, read from the source with `ast`: every import, at module level and inside functions.

- `connectors/` and `rules/` import nothing from `modules/`, `webapp/` or `demo/`: they are the bottom layers the
  modules build on, usable without the web application.
- Production code (webapp, modules, rules, connectors) never imports the registry simulator or the synthetic
  population, which exist for the demo, the tests and the benchmarks only.
- No import cycles between modules, counting imports inside functions (which only postpone a cycle).

An edge goes to the module that is imported: `from a.b import c` is an edge to `a.b.c` when that is a module,
else to `a.b`; `import webapp.extensions` is an edge to `webapp.extensions` alone. A package's `__init__` is a node
only when the package itself is imported (`from webapp import create_app`). Imports under `if TYPE_CHECKING:`
never run and are left out.

Run `python -m tests.test_layers [ROOT]` to print every violation and cycle of a checkout (e.g. an older one).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("webapp", "modules", "connectors", "rules", "demo", "bench", "tests")
LOWER = ("connectors", "rules")  # may import each other and libraries, nothing above
UPPER = ("modules", "webapp", "demo")
PRODUCTION = ("webapp", "modules", "connectors", "rules")
TEST_ONLY = ("connectors.simulator", "connectors.synthetic")  # the simulator, the synthetic population


@dataclass(frozen=True)
class Import:
    source: str   # the importing module, dotted
    target: str   # the imported project module, dotted
    path: str     # the importing file, relative to the root
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(path, root)] = path
    return found


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _statements(tree: ast.AST):
    """Every import statement that can run, at any depth (functions, classes, try blocks)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from (child for stmt in node.orelse for child in _statements_of(stmt))
            continue
        yield from _statements_of(node)


def _statements_of(node: ast.AST):
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _statements(node)


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module `name` names, or the nearest enclosing one; None outside the project."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(source: str, path: Path, modules: dict[str, Path], root: Path):
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    relative = str(path.relative_to(root))
    for node in _statements(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:  # relative: from the package of this module, up level - 1 packages
                package = source.split(".") if is_package else source.split(".")[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        for target in dict.fromkeys(targets):
            resolved = _resolve(target, modules)
            if resolved is not None and resolved != source:
                yield Import(source, resolved, relative, node.lineno)


def all_imports(root: Path = ROOT) -> list[Import]:
    modules = project_modules(root)
    return [edge for name, path in modules.items() for edge in imports_of(name, path, modules, root)]


def layer_violations(imports: list[Import]) -> list[str]:
    problems = []
    for edge in imports:
        layer = edge.source.split(".")[0]
        if layer in LOWER and edge.target.split(".")[0] in UPPER:
            problems.append(f"{edge.path}:{edge.line}: {edge.source} imports {edge.target} "
                            f"({layer}/ must not import {edge.target.split('.')[0]}/)")
        production = layer in PRODUCTION and not any(_under(edge.source, name) for name in TEST_ONLY)
        if production and any(_under(edge.target, name) for name in TEST_ONLY):
            problems.append(f"{edge.path}:{edge.line}: {edge.source} imports {edge.target} "
                            "(production code must not use the simulator or the synthetic population)")
    return problems


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """The shortest cycle through each module that is on one, as [a, b, …, a], each cycle once."""
    graph: dict[str, set[str]] = {}
    for edge in imports:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    cycles = {}
    for component in _components(graph):
        for start in sorted(component) if len(component) > 1 else ():
            cycle = _shortest_cycle(start, graph, component)
            first = cycle.index(min(cycle))  # the same cycle found from another of its modules
            cycles.setdefault(tuple(cycle[first:-1] + cycle[:first + 1]), None)
    return [list(cycle) for cycle in sorted(cycles)]


def _components(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components, iteratively (the graph is a few hundred modules deep at most)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                found.append(component)
    return found


def _shortest_cycle(start: str, graph: dict[str, set[str]], component: set[str]) -> list[str]:
    previous = {start: None}
    queue = [start]
    for node in queue:
        for child in sorted(graph[node] & component):
            if child == start:
                path = [node]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, node, start]
            if child not in previous:
                previous[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is on no cycle")


def _edge_lines(cycle: list[str], imports: list[Import]) -> str:
    lines = []
    for source, target in zip(cycle, cycle[1:], strict=False):
        where = next(f"{edge.path}:{edge.line}" for edge in imports if edge.source == source and edge.target == target)
        lines.append(f"    {source} -> {target}  ({where})")
    return "\n".join(lines)


def report(root: Path = ROOT) -> tuple[list[str], list[str]]:
    imports = all_imports(root)
    cycles = [" -> ".join(cycle) + "\n" + _edge_lines(cycle, imports) for cycle in import_cycles(imports)]
    return sorted(layer_violations(imports)), cycles


# -- the tests ----------------------------------------------------------------------------------------------------


def test_lower_layers_and_production_code_import_across_no_line():
    violations, _cycles = report()
    assert not violations, f"{len(violations)} imports across layers:\n" + "\n".join(violations)


def test_no_import_cycles_even_through_imports_inside_functions():
    _violations, cycles = report()
    assert not cycles, f"{len(cycles)} import cycles:\n" + "\n".join(cycles)


def test_the_checker_sees_imports_inside_functions_and_submodules(tmp_path):
    """The checker itself: a function-level import, `from package import submodule`, a relative import."""
    files = {
        "connectors/__init__.py": "",
        "connectors/thing.py": "def f():\n    from webapp import models\n",
        "webapp/__init__.py": "",
        "webapp/models.py": "from webapp import views\n",
        "webapp/views.py": "from . import models\nimport connectors.simulator.store\n",
        "connectors/simulator/__init__.py": "",
        "connectors/simulator/store.py": "",
        "rules/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import modules\n",
        "modules/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    violations, cycles = report(tmp_path)
    assert violations == [
        "connectors/thing.py:2: connectors.thing imports webapp.models (connectors/ must not import webapp/)",
        "webapp/views.py:2: webapp.views imports connectors.simulator.store "
        "(production code must not use the simulator or the synthetic population)",
    ]
    assert [cycle.splitlines()[0] for cycle in cycles] == ["webapp.models -> webapp.views -> webapp.models"]


if __name__ == "__main__":
    found_violations, found_cycles = report(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT)
    print(f"{len(found_violations)} imports across layers")
    print("\n".join(found_violations))
    print(f"{len(found_cycles)} import cycles")
    print("\n".join(found_cycles))
    sys.exit(1 if found_violations or found_cycles else 0)
