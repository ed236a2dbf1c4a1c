"""The package's layout rules, checked on its source with ``ast`` (docs/architecture.md, "Rules of the house").

- **No import cycle.** Every import the interpreter can execute counts: module-level imports and the imports
  inside functions (deferred only to keep ``--help`` fast, they still tie the two modules together: a
  function-level import of a module that imports you back is a cycle that merely fails later). Imports
  under ``if TYPE_CHECKING:`` do not count: they never run, and annotations need them.
- **A thin CLI.** No function in ``sigma_lambda_layer/cli/`` is longer than 60 lines; the work is in the API.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sigma_lambda_layer"
#: Longest function allowed in the CLI package, in lines from ``def`` to its last line (click's option
#: decorators above it are declarations, not logic, and do not count).
MAX_CLI_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (``pkg/__init__.py`` is ``pkg``)."""
    modules: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``name`` imports at run time (module level and inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
            elif isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name in modules)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    kept = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*kept, *([child.module] if child.module else [])])
                for alias in child.names:
                    # ``from pkg import module`` imports the module; ``from module import name`` the module.
                    target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    if target in modules:
                        found.add(target)
            else:
                visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(name)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return components


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_no_import_cycle() -> None:
    graph = _graph()
    cycles = _cycles(graph)
    described = [
        " <-> ".join(c) + ": " + "; ".join(f"{m} imports {sorted(graph[m] & set(c))}" for m in c)
        for c in cycles
    ]
    assert not cycles, "import cycles in the package:\n" + "\n".join(described)


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for module in graph[stack.pop()] - seen:
            seen.add(module)
            stack.append(module)
    return seen


def test_results_sit_below_the_conversion_machinery() -> None:
    """The result types (and what they import: display, outputs, ...) never reach the conversion core, the
    batch engine or the API, so each of those can import them at module level."""
    machinery = {f"sigma_lambda_layer.{m}" for m in ("api", "batch", "conversion", "cli")}
    reached = _reachable(_graph(), "sigma_lambda_layer.results")
    assert not reached & machinery, sorted(reached & machinery)


def test_cycle_finder_sees_function_level_imports() -> None:
    """The finder itself: a function-level import back is a cycle, a TYPE_CHECKING one is not."""
    tree = {
        "a": "import sigma_lambda_layer.b\n",
        "b": "def f():\n    from sigma_lambda_layer import a\n",
        "c": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sigma_lambda_layer import a\n",
    }
    modules = {f"sigma_lambda_layer.{k}": PACKAGE / f"{k}.py" for k in tree}
    graph: dict[str, set[str]] = {}
    for short, source in tree.items():
        name = f"sigma_lambda_layer.{short}"
        fake = _FakePath(PACKAGE / f"{short}.py", source)
        graph[name] = _imports(name, fake, modules)  # type: ignore[arg-type]
    assert _cycles(graph) == [["sigma_lambda_layer.a", "sigma_lambda_layer.b"]]
    assert graph["sigma_lambda_layer.c"] == set()


class _FakePath:
    """Just enough of a Path for :func:`_imports` to read ``source`` as the file."""

    def __init__(self, path: Path, source: str) -> None:
        self.name = path.name
        self._source = source

    def read_text(self, encoding: str = "utf-8") -> str:
        return self._source


def test_cli_functions_are_short() -> None:
    long: list[str] = []
    for path in sorted((PACKAGE / "cli").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = node.lineno
                lines = (node.end_lineno or node.lineno) - start + 1
                if lines > MAX_CLI_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{start}: {node.name} ({lines} lines)")
    assert not long, f"CLI functions over {MAX_CLI_FUNCTION_LINES} lines:\n" + "\n".join(long)
